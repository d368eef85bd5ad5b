// SPDX-License-Identifier: MIT
/* The objects' call frame information, shared between unwinders. See cfi_objects.h. */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "symbols/object_key.h"
#include "unwind/cfi_objects.h"

struct uvs_cfi_object {
	struct uvs_cfi_object *next;
	struct uvs_object_key key;
	size_t refs;          /* under table_lock */
	int fd;               /* our own dup, read with pread by libelf */
	Elf *elf;
	pthread_mutex_t lock; /* one libdw lookup at a time: libdw caches FDEs and CIEs */
	Dwarf_CFI *eh_cfi;    /* .eh_frame (dwarf_getcfi_elf), freed by dwarf_cfi_end */
	Dwarf *dwarf;         /* for .debug_frame, opened only when .eh_frame has no answer */
	Dwarf_CFI *debug_cfi; /* owned by dwarf */
	bool debug_tried;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uvs_cfi_object *table;

static void object_close(struct uvs_cfi_object *o)
{
	if (o->dwarf) /* debug_cfi is the Dwarf's own */
		dwarf_end(o->dwarf);
	if (o->eh_cfi)
		dwarf_cfi_end(o->eh_cfi);
	if (o->elf)
		elf_end(o->elf);
	if (o->fd >= 0)
		close(o->fd);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* Opens the object at fd and reads its .eh_frame; NULL with errno. */
static struct uvs_cfi_object *object_open(int fd, const struct uvs_object_key *k)
{
	struct uvs_cfi_object *o = calloc(1, sizeof(*o));
	int err;

	if (!o)
		return NULL;
	o->key = *k;
	o->refs = 1;
	pthread_mutex_init(&o->lock, NULL);
	o->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (o->fd < 0) {
		err = errno;
		object_close(o);
		errno = err;
		return NULL;
	}
	o->elf = elf_begin(o->fd, ELF_C_READ, NULL);
	if (o->elf && elf_kind(o->elf) == ELF_K_ELF)
		o->eh_cfi = dwarf_getcfi_elf(o->elf); /* NULL: no .eh_frame, maybe .debug_frame */
	return o;
}

/* The object with key k, with a new reference; NULL if none. Called with table_lock held. */
static struct uvs_cfi_object *find_locked(const struct uvs_object_key *k)
{
	for (struct uvs_cfi_object *o = table; o; o = o->next) {
		if (uvs_object_key_same(&o->key, k)) {
			o->refs++;
			return o;
		}
	}
	return NULL;
}

struct uvs_cfi_object *uvs_cfi_object_get(int fd)
{
	struct uvs_cfi_object *o, *raced;
	struct uvs_object_key k;
	struct uvs_elf *elf;
	int err;

	/* The same validation as every ELF file read from a target; the key comes with it. */
	elf = uvs_elf_open_fd(fd);
	if (!elf)
		return NULL;
	err = uvs_object_key_make(elf, fd, &k);
	uvs_elf_close(elf);
	if (err) {
		errno = -err;
		return NULL;
	}
	pthread_mutex_lock(&table_lock);
	o = find_locked(&k);
	pthread_mutex_unlock(&table_lock);
	if (o)
		return o;
	/* Read without the table's lock: node's .eh_frame is megabytes. */
	o = object_open(fd, &k);
	if (!o)
		return NULL;
	pthread_mutex_lock(&table_lock);
	raced = find_locked(&k);
	if (!raced) {
		o->next = table;
		table = o;
	}
	pthread_mutex_unlock(&table_lock);
	if (raced) {
		object_close(o);
		o = raced;
	}
	return o;
}

void uvs_cfi_object_put(struct uvs_cfi_object *o)
{
	struct uvs_cfi_object **at;
	bool last;

	if (!o)
		return;
	pthread_mutex_lock(&table_lock);
	last = --o->refs == 0;
	if (last) {
		for (at = &table; *at && *at != o; at = &(*at)->next)
			;
		if (*at)
			*at = o->next;
	}
	pthread_mutex_unlock(&table_lock);
	if (last)
		object_close(o);
}

/* The object's .debug_frame, read the first time it is asked for. Called with o->lock held. */
static Dwarf_CFI *debug_cfi_locked(struct uvs_cfi_object *o)
{
	if (!o->debug_tried && o->elf && elf_kind(o->elf) == ELF_K_ELF) {
		o->debug_tried = true;
		o->dwarf = dwarf_begin_elf(o->elf, DWARF_C_READ, NULL);
		if (o->dwarf)
			o->debug_cfi = dwarf_getcfi(o->dwarf);
	}
	return o->debug_cfi;
}

Dwarf_Frame *uvs_cfi_object_row(struct uvs_cfi_object *o, uint64_t addr)
{
	Dwarf_Frame *frame = NULL;
	Dwarf_CFI *cfi;

	if (!o)
		return NULL;
	pthread_mutex_lock(&o->lock);
	if (!o->eh_cfi || dwarf_cfi_addrframe(o->eh_cfi, addr, &frame)) {
		frame = NULL;
		cfi = debug_cfi_locked(o);
		if (cfi && dwarf_cfi_addrframe(cfi, addr, &frame))
			frame = NULL;
	}
	pthread_mutex_unlock(&o->lock);
	return frame;
}

size_t uvs_cfi_objects_open(void)
{
	size_t n = 0;

	pthread_mutex_lock(&table_lock);
	for (struct uvs_cfi_object *o = table; o; o = o->next)
		n++;
	pthread_mutex_unlock(&table_lock);
	return n;
}
