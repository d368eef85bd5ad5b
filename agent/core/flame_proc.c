// SPDX-License-Identifier: MIT
#include "core/flame_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect/perf_sampler.h"
#include "collect/stack_resolver.h"
#include "collect/thread_stack.h"
#include "core/flame_samples.h"
#include "core/profile.h"
#include "render/flame.h"
#include "target/image_watch.h"
#include "target/privileges.h"
#include "target/process.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/out_file.h"

/* ptrace grabs per second of each thread: low, as each one stops the thread. */
#define GRAB_HZ 19
/* Pauses kept for the median and p99 at the end (a 30 s run of 10 threads at 19 Hz: 5700). */
#define MAX_PAUSES 65536

struct flame_proc {
	const struct uvs_cli *cli;
	struct uvs_target *t;
	struct uvs_stack_resolver *r;
	struct uvs_profile *profile;
	struct uvs_image_watch image; /* the image attached to: an exec ends the sampling */
	bool execd;
	struct uvs_out_file files[UVS_FLAME_FILES]; /* kept once the profile is written */
	uint64_t period_ns;
	uint64_t start, start_real;
	uint64_t samples, add_failed;
	/* ptrace grabs */
	uint64_t *pauses;
	size_t npauses;
	uint64_t grabs, grab_failed, pause_max;
	uint64_t sec_grabs, sec_pause_sum, sec_pause_max, sec_start;
};

static volatile sig_atomic_t stop_asked;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_asked = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	/* No SA_RESTART: a poll or a sleep returns at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/*
 * Still there: a process whose main thread is a zombie has exited, whoever reaps it, and one
 * whose memory is gone (its executable's link with it) is on its way there.
 */
static bool target_running(const struct flame_proc *fp)
{
	char exe[8];

	return uvs_target_alive(fp->t) && !uvs_pid_exited(fp->t->pid) &&
	       uvs_image_exe(fp->t->pid, exe, sizeof(exe)) != -ENOENT;
}

/* Says once that the target exec'd: the sampling stops. */
static void say_execd(struct flame_proc *fp)
{
	char exe[256];

	fp->execd = true;
	uvs_image_exe(fp->t->pid, exe, sizeof(exe));
	uvs_warn("pid %d exec'd another program (%s) while being sampled: its new image is not "
		 "the one uvscope read, so sampling stops; the profile holds what was sampled "
		 "before", (int)fp->t->pid, exe);
}

/*
 * False once the image attached to is gone: after an exec what uvscope read of the target
 * (maps, symbols, V8's layout) names nothing in the new program, and memory read by pid is the
 * new program's; after an exit there is nothing left to read. True while the image is there,
 * or when that cannot be told (the watch could not be opened).
 */
static bool same_image(struct flame_proc *fp)
{
	if (fp->execd)
		return false;
	if (uvs_image_watch_same(&fp->image) != 0)
		return true;
	if (target_running(fp))
		say_execd(fp);
	return false;
}

/*
 * The sampling ended with the image gone or the target not running: an exit, or an exec. An
 * exec in progress looks like an exit for a moment: the old leader is a zombie until the
 * exec'ing thread has taken its pid over, and that thread uses the old image until it has
 * switched to the new one. So this waits (1 s at most) until the pid is gone (an exit, reaped)
 * or runs another image (an exec); a zombie still there at the end is taken for an exit.
 */
static void tell_exec_from_exit(struct flame_proc *fp)
{
	const struct timespec ms = { .tv_nsec = 1000000 };

	if (fp->execd || (target_running(fp) && uvs_image_watch_same(&fp->image) != 0))
		return;
	for (int i = 0; i < 1000; i++) {
		if (!uvs_target_alive(fp->t))
			return;
		if (target_running(fp) && uvs_image_watch_same(&fp->image) == 0) {
			say_execd(fp);
			return;
		}
		nanosleep(&ms, NULL);
	}
}

static bool is_loop_role(enum uvs_role role)
{
	return role == UVS_ROLE_MAIN || role == UVS_ROLE_WORKER || role == UVS_ROLE_LOOP;
}

static enum uvs_sample_state state_of(const struct uvs_stack_sample *raw)
{
	if (raw->kind == UVS_SAMPLE_OFF_CPU)
		return UVS_STATE_OFF_CPU;
	if (raw->loop == UVS_SAMPLE_LOOP_BUSY)
		return UVS_STATE_LOOP_BUSY;
	if (raw->loop == UVS_SAMPLE_LOOP_IDLE)
		return UVS_STATE_LOOP_IDLE;
	return UVS_STATE_CPU;
}

/* A raw sample, from either mechanism, named and counted. */
static void add_raw(struct flame_proc *fp, const struct uvs_stack_sample *raw,
		    const uint8_t *copy, size_t copy_len)
{
	struct uvs_frame frames[UVS_RESOLVED_FRAMES_MAX];
	struct uvs_sample s = { 0 };
	bool known;
	int phase;

	s.nframes = uvs_stack_resolve(fp->r, raw, copy, copy_len, frames, UVS_RESOLVED_FRAMES_MAX,
				      &phase);
	/*
	 * Taken and named, then checked: a sample of the image attached to until now was taken
	 * and named in it. One the check cannot vouch for is dropped, never misnamed (the last
	 * ones of a target that exited are dropped too: its memory is gone, they cannot be named).
	 */
	if (!s.nframes || !same_image(fp))
		return;
	s.frames = frames;
	s.ts_ns = raw->ts_ns;
	s.weight_ns = fp->period_ns;
	s.labels.tid = (int)raw->tid;
	s.labels.role = uvs_target_role(fp->t, (pid_t)raw->tid, &known);
	s.labels.state = state_of(raw);
	s.labels.phase = phase;
	fp->samples++;
	if (uvs_flame_add(fp->profile, fp->cli->flame_mode, &s))
		fp->add_failed++;
}

/* The perf sampler's samples: the loop threads' are busy (on the CPU, between waits). */
static void on_perf_sample(void *ctx, const struct uvs_stack_sample *raw, const uint8_t *copy,
			   size_t copy_len)
{
	struct flame_proc *fp = ctx;
	struct uvs_stack_sample *s = (struct uvs_stack_sample *)raw;
	bool known;

	if (is_loop_role(uvs_target_role(fp->t, (pid_t)raw->tid, &known)))
		s->loop = UVS_SAMPLE_LOOP_BUSY;
	add_raw(fp, raw, copy, copy_len);
}

/* Threads perf could not sample (their rings' locked memory ran out): said when it changes. */
static void say_unsampled(struct uvs_perf_sampler *ps, uint64_t *said)
{
	struct uvs_perf_sampler_stats st;

	uvs_perf_sampler_stats(ps, &st);
	if (st.unsampled == *said)
		return;
	*said = st.unsampled;
	if (!st.unsampled)
		return;
	uvs_warn("perf_event_open: %" PRIu64 " of the threads cannot be sampled (%s%s): the "
		 "profile leaves them out; %" PRIu64 " are sampled", st.unsampled,
		 strerror(-st.unsampled_err), st.unsampled_err == -EPERM ||
		 st.unsampled_err == -ENOMEM ? ": the locked memory for perf rings, "
		 "kernel.perf_event_mlock_kb and RLIMIT_MEMLOCK, ran out" : "", st.threads);
}

/* run_perf's answer when not one thread could be sampled: ptrace grabs instead. */
#define PERF_UNAVAILABLE 1

static int run_perf(struct flame_proc *fp, uint64_t end)
{
	struct uvs_perf_sampler_options o = { .period_ns = fp->period_ns,
					      .on_sample = on_perf_sample, .ctx = fp };
	struct uvs_perf_sampler_stats st;
	struct uvs_perf_sampler *ps;
	uint64_t last_sync = uvs_now_mono(), said = 0;
	char why[256] = "";
	int n = 0;

	ps = uvs_perf_sampler_open(fp->t->pid, &o, why, sizeof(why));
	if (!ps) {
		/* Not one ring could be had (or perf refused): the profile is not given up. */
		uvs_warn("%s: stacks by ptrace grabs instead", why);
		return PERF_UNAVAILABLE;
	}
	say_unsampled(ps, &said);
	while (!stop_asked && (!end || uvs_now_mono() < end)) {
		n = uvs_perf_sampler_poll(ps, 100);
		if (n == -ESRCH || !target_running(fp) || !same_image(fp))
			break;
		if (uvs_now_mono() - last_sync >= 1000000000ULL) {
			last_sync = uvs_now_mono();
			uvs_perf_sampler_sync_threads(ps);
			say_unsampled(ps, &said);
			uvs_target_refresh_threads(fp->t);
			uvs_stack_resolver_new_epoch(fp->r);
		}
	}
	uvs_perf_sampler_stats(ps, &st);
	uvs_info("perf_event_open: %" PRIu64 " samples, %" PRIu64 " lost, %" PRIu64
		 " unreadable records", st.samples, st.lost, st.bad);
	if (st.unsampled)
		uvs_warn("perf_event_open: %" PRIu64 " of the threads could not be sampled: %s%s",
			 st.unsampled, strerror(-st.unsampled_err),
			 st.unsampled_err == -EPERM || st.unsampled_err == -ENOMEM ?
			 " (the locked memory for perf rings: kernel.perf_event_mlock_kb, "
			 "RLIMIT_MEMLOCK)" : "");
	uvs_perf_sampler_free(ps);
	return 0;
}

static void note_pause(struct flame_proc *fp, pid_t tid, const struct uvs_thread_stack *ts)
{
	uint64_t ns = ts->pause_ns;
	uint64_t now = uvs_now_mono();

	if (fp->npauses < MAX_PAUSES)
		fp->pauses[fp->npauses++] = ns;
	if (ns > fp->pause_max)
		fp->pause_max = ns;
	fp->sec_grabs++;
	fp->sec_pause_sum += ns;
	if (ns > fp->sec_pause_max)
		fp->sec_pause_max = ns;
	/* "at": when the interrupt was sent (CLOCK_MONOTONIC ns), for the bench to match. */
	uvs_debug("ptrace grab of thread %d at %" PRIu64 ": stopped %.1f us (stop seen after "
		  "%.1f us, stack read in %.1f us; the detach call %.1f us)", (int)tid,
		  (uint64_t)ts->s.ts_ns,
		  ns / 1e3, ts->stop_ns / 1e3, ts->take_ns / 1e3, ts->detach_ns / 1e3);
	if (now - fp->sec_start < 1000000000ULL)
		return;
	uvs_info("ptrace: %" PRIu64 " grabs in the last second, pause mean %.1f us, max %.1f us",
		 fp->sec_grabs, fp->sec_grabs ? fp->sec_pause_sum / 1e3 / fp->sec_grabs : 0.0,
		 fp->sec_pause_max / 1e3);
	fp->sec_start = now;
	fp->sec_grabs = fp->sec_pause_sum = fp->sec_pause_max = 0;
}

/*
 * One round: each thread that the mode wants a sample of now is grabbed once. A CPU profile
 * wants running threads only (a sleeping one is not on the CPU: stopping it would show
 * nothing), an off-CPU one sleeping threads only ('S': one in 'D' cannot stop).
 */
static void grab_round(struct flame_proc *fp, uint64_t hold_ns, struct uvs_thread_stack *ts)
{
	for (size_t i = 0; i < fp->t->nthreads && !stop_asked && !fp->execd; i++) {
		const struct uvs_thread *th = &fp->t->threads[i];
		struct uvs_thread_stack_options o = { .test_hold_ns = hold_ns };
		char state = uvs_thread_state(fp->t->pid, th->tid), why[256];
		int err;

		/* Asleep in 'D' it could not stop: the grab would refuse it. */
		if (state != (fp->cli->flame_mode == UVS_FLAME_OFF_CPU ? 'S' : 'R'))
			continue;
		if (fp->cli->flame_mode == UVS_FLAME_LOOP && !is_loop_role(th->role))
			continue;
		o.loop = is_loop_role(th->role) ? UVS_SAMPLE_LOOP_BUSY : UVS_SAMPLE_NOT_LOOP;
		err = uvs_thread_stack_grab(fp->t->pid, th->tid, &o, ts, why, sizeof(why));
		if (ts->pause_ns)
			note_pause(fp, th->tid, ts);
		fp->grabs++;
		if (err) {
			fp->grab_failed++;
			if (err != -ESRCH && err != -EAGAIN && err != -EBUSY)
				uvs_warn("%s", why);
			else
				uvs_debug("%s", why);
			if (err == -EPERM)
				return;
			continue;
		}
		add_raw(fp, &ts->s, ts->copy, ts->copy_len);
	}
}

/*
 * UVSCOPE_TEST_HOLD_STOP_MS, for the tests alone: how long to keep a grabbed thread stopped.
 * Capped at 5 s and said, so a stray setting cannot hold a production process for long.
 */
#define TEST_HOLD_MAX_MS 5000ULL

static uint64_t test_hold_ns(void)
{
	const char *v = getenv("UVSCOPE_TEST_HOLD_STOP_MS");
	unsigned long long ms;

	if (!v || !*v)
		return 0;
	ms = strtoull(v, NULL, 10);
	if (ms > TEST_HOLD_MAX_MS)
		ms = TEST_HOLD_MAX_MS;
	uvs_warn("UVSCOPE_TEST_HOLD_STOP_MS is set (a test hook): each grabbed thread is kept "
		 "stopped %llu ms", ms);
	return ms * 1000000ULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int run_grabs(struct flame_proc *fp, uint64_t end)
{
	uint64_t hold_ns = test_hold_ns();
	uint64_t period = 1000000000ULL / GRAB_HZ, next = uvs_now_mono(), last_sync = next;
	struct uvs_thread_stack *ts = malloc(sizeof(*ts));

	fp->pauses = calloc(MAX_PAUSES, sizeof(*fp->pauses));
	if (!ts || !fp->pauses) {
		free(ts);
		uvs_err("cannot set up ptrace grabs: out of memory");
		return -ENOMEM;
	}
	fp->sec_start = next;
	while (!stop_asked && (!end || uvs_now_mono() < end) && target_running(fp) &&
	       same_image(fp)) {
		struct timespec ts_sleep;
		uint64_t now;

		/* A thread a grab gave up on, stopped since: let it go (also with nothing to grab). */
		uvs_thread_stack_settle();
		grab_round(fp, hold_ns, ts);
		next += period;
		now = uvs_now_mono();
		if (now - last_sync >= 1000000000ULL) {
			last_sync = now;
			uvs_target_refresh_threads(fp->t);
			uvs_stack_resolver_new_epoch(fp->r);
		}
		if (next <= now) {
			next = now;
			continue;
		}
		ts_sleep.tv_sec = (time_t)((next - now) / 1000000000ULL);
		ts_sleep.tv_nsec = (long)((next - now) % 1000000000ULL);
		nanosleep(&ts_sleep, NULL);
	}
	if (fp->npauses) {
		qsort(fp->pauses, fp->npauses, sizeof(*fp->pauses), cmp_u64);
		uvs_info("ptrace: %" PRIu64 " grabs (%" PRIu64 " failed), pause median %.1f us, "
			 "p99 %.1f us, max %.1f us", fp->grabs, fp->grab_failed,
			 fp->pauses[fp->npauses / 2] / 1e3,
			 fp->pauses[fp->npauses * 99 / 100] / 1e3, fp->pause_max / 1e3);
	}
	free(ts);
	/* What has stopped by now is detached; the rest the kernel releases when we exit. */
	uvs_thread_stack_settle();
	return 0;
}

/*
 * perf_event_open where the kernel allows it (it stops nothing); UVSCOPE_PROC_STACKS=ptrace
 * or =perf picks one.
 */
static bool use_perf(uint32_t hz, enum uvs_flame_mode mode)
{
	const char *force = getenv("UVSCOPE_PROC_STACKS");
	char why[256];
	bool kernel;

	/* A cpu-clock event samples running threads only: where threads sleep takes a grab. */
	if (mode == UVS_FLAME_OFF_CPU) {
		uvs_info("stacks by ptrace grabs of sleeping threads at %d Hz per thread (--mode "
			 "offcpu: perf samples see running threads only); each grab stops one "
			 "thread, its pause is measured", GRAB_HZ);
		return false;
	}

	if (force && strcmp(force, "ptrace") == 0) {
		uvs_info("stacks by ptrace grabs at %d Hz per thread (UVSCOPE_PROC_STACKS=ptrace); "
			 "each grab stops one thread, its pause is measured", GRAB_HZ);
		return false;
	}
	if (uvs_perf_sampler_allowed(&kernel, why, sizeof(why)) &&
	    !(force && strcmp(force, "perf") == 0)) {
		uvs_info("stacks by ptrace grabs at %d Hz per thread: %s; each grab stops one "
			 "thread, its pause is measured", GRAB_HZ, why);
		return false;
	}
	uvs_info("stacks by perf_event_open sampling at %u Hz per thread (%s%s): nothing is "
		 "stopped", hz, force ? "UVSCOPE_PROC_STACKS=perf; " : "", why);
	return true;
}

static int open_files(struct flame_proc *fp)
{
	for (size_t i = 0; i < fp->cli->nflame_files; i++) {
		int err = uvs_out_file_open(&fp->files[i], fp->cli->flame_files[i]);

		if (err) {
			uvs_err("cannot open -o %s: %s", fp->cli->flame_files[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int write_files(struct flame_proc *fp)
{
	static const char *const modes[] = { [UVS_FLAME_CPU] = "cpu",
					     [UVS_FLAME_OFF_CPU] = "offcpu",
					     [UVS_FLAME_LOOP] = "loop" };
	char title[160];
	struct uvs_flame_info info = { .title = title, .time_ns = (int64_t)fp->start_real,
				       .duration_ns = (int64_t)(uvs_now_mono() - fp->start) };
	int ret = 0;

	snprintf(title, sizeof(title), "uvscope flame: pid %d (%s), %s samples (proc backend)",
		 (int)fp->t->pid, fp->t->comm, modes[fp->cli->flame_mode]);
	for (size_t i = 0; i < fp->cli->nflame_files; i++) {
		/* Emptied only now: a run that failed before leaves the path as it was. */
		int err = uvs_out_file_keep(&fp->files[i]);

		if (!err)
			err = uvs_flame_write(fp->files[i].f, fp->cli->flame_formats[i], fp->profile,
					      &info);
		if (!err && fflush(fp->files[i].f))
			err = -errno;
		if (err) {
			uvs_err("cannot write %s: %s", fp->cli->flame_files[i], strerror(-err));
			ret = 1;
			continue;
		}
		uvs_info("wrote %" PRIu64 " samples (%zu stacks) to %s",
			 uvs_profile_total_samples(fp->profile), uvs_profile_nentries(fp->profile),
			 fp->cli->flame_files[i]);
	}
	return ret;
}

static void describe(struct flame_proc *fp)
{
	const char *notes[4];
	char what[256];
	size_t n;

	uvs_stack_resolver_describe(fp->r, what, sizeof(what));
	uvs_info("flame --backend proc: pid %d (%s), no BPF; %s", (int)fp->t->pid, fp->t->comm,
		 what);
	n = uvs_stack_resolver_notes(fp->r, notes, 4);
	for (size_t i = 0; i < n; i++)
		uvs_info("note: %s", notes[i]);
}

static void cleanup(struct flame_proc *fp)
{
	for (size_t i = 0; i < UVS_FLAME_FILES; i++)
		uvs_out_file_close(&fp->files[i]);
	uvs_profile_free(fp->profile);
	uvs_stack_resolver_free(fp->r);
	uvs_image_watch_close(&fp->image);
	if (fp->t)
		uvs_target_close(fp->t);
	free(fp->t);
	free(fp->pauses);
}

bool uvs_flame_proc_wanted(const struct uvs_cli *cli)
{
	char reason[512];

	if (cli->backend == UVS_BACKEND_PROC)
		return true;
	if (cli->backend != UVS_BACKEND_AUTO)
		return false;
	if (uvs_check_privileges(reason, sizeof(reason))) {
		uvs_info("pid %d: BPF is not allowed here (%s): sampling with the proc backend "
			 "instead (--backend; see uvscope --help)", (int)cli->pid, reason);
		return true;
	}
	if (access(VMLINUX_BTF, R_OK)) {
		uvs_info("pid %d: the kernel has no BTF (%s): sampling with the proc backend "
			 "instead (--backend; see uvscope --help)", (int)cli->pid, VMLINUX_BTF);
		return true;
	}
	return false;
}

int uvs_flame_proc_run(const struct uvs_cli *cli)
{
	struct flame_proc fp = { .cli = cli, .image = { .fd = -1 } };
	uint64_t end;
	char why[320] = "";
	int err, ret = 1;
	bool perf;

	uvs_verbose = cli->verbose;
	fp.t = calloc(1, sizeof(*fp.t));
	if (!fp.t)
		goto out;
	/* Before anything is read of the target: an exec after this is seen. */
	err = uvs_image_watch_open(&fp.image, cli->pid);
	if (err)
		uvs_debug("pid %d: cannot watch for an exec (/proc/%d/mem: %s)", (int)cli->pid,
			  (int)cli->pid, strerror(-err));
	err = uvs_target_open(fp.t, cli->pid, why, sizeof(why));
	if (err) {
		uvs_err("%s", why);
		goto out;
	}
	fp.r = uvs_stack_resolver_new(fp.t);
	if (!fp.r) {
		uvs_err("cannot set up stack naming for pid %d: %s", (int)cli->pid,
			strerror(errno));
		goto out;
	}
	if (open_files(&fp))
		goto out;
	describe(&fp);
	perf = use_perf(cli->sample_hz, cli->flame_mode);
	/* What one sample stands for: the perf events' period, or the grabs'. */
	fp.period_ns = perf ? 1000000000ULL / cli->sample_hz : 1000000000ULL / GRAB_HZ;
	fp.profile = uvs_profile_new(fp.period_ns);
	if (!fp.profile) {
		uvs_err("cannot set up the profile: out of memory");
		goto out;
	}
	catch_stop_signals();
	fp.start = uvs_now_mono();
	fp.start_real = uvs_now_real();
	end = cli->duration_ns ? fp.start + cli->duration_ns : 0;
	err = perf ? run_perf(&fp, end) : run_grabs(&fp, end);
	if (err == PERF_UNAVAILABLE) {
		/* Each sample now stands for a grab's period. */
		uvs_profile_free(fp.profile);
		fp.period_ns = 1000000000ULL / GRAB_HZ;
		fp.profile = uvs_profile_new(fp.period_ns);
		err = fp.profile ? run_grabs(&fp, end) : -ENOMEM;
		if (!fp.profile)
			uvs_err("cannot set up the profile: out of memory");
	}
	if (err)
		goto out;
	tell_exec_from_exit(&fp);
	if (!fp.execd && !target_running(&fp))
		uvs_info("pid %d has exited: the profile holds what was sampled before",
			 (int)cli->pid);
	ret = write_files(&fp);
out:
	cleanup(&fp);
	return ret;
}
