// SPDX-License-Identifier: MIT
/*
 * ELF symbol resolver on libelf. See elf_symbols.h for the contract.
 *
 * Untrusted input: everything libelf will later read (program headers, section headers, the
 * data of every section) is checked against the file size once, at open, and the file is
 * refused (EINVAL) if anything points outside it. libelf is opened with ELF_C_READ, not
 * ELF_C_READ_MMAP: it then reads with pread(2), so a traced process truncating its binary
 * under us gives a read error instead of a SIGBUS.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "target/elf.h"

/* A bound on the symbols we will scan in one table (node has ~110k). */
#define UVS_ELF_MAX_SYMS (50u * 1000 * 1000)
/* A bound on program headers: real objects have a dozen or two. */
#define UVS_ELF_MAX_PHDRS 4096u

struct uvs_elf_load {
	uint64_t vaddr, memsz, offset, filesz;
};

struct uvs_elf_symtab {
	Elf_Scn *scn; /* NULL when the object has no such table */
	size_t strndx; /* its string table, checked to be an SHT_STRTAB */
};

struct uvs_elf {
	int fd;
	Elf *elf;
	uint64_t file_size;
	uint16_t type;
	struct uvs_elf_load *loads;
	size_t nloads;
	uint64_t load_base;
	struct uvs_elf_symtab symtab, dynsym;
};

enum uvs_sym_kind { UVS_SYM_FUNC, UVS_SYM_OBJECT };

/* True when [off, off + len) lies inside a file of size size, without overflow. */
static bool in_file(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* Reads the program headers, keeping the PT_LOADs; -EINVAL if any points outside the file. */
static int load_phdrs(struct uvs_elf *e, const GElf_Ehdr *eh)
{
	size_t phnum, i;

	if (elf_getphdrnum(e->elf, &phnum) || phnum > UVS_ELF_MAX_PHDRS)
		return -EINVAL;
	if (phnum && (eh->e_phentsize != sizeof(Elf64_Phdr) ||
		      !in_file(e->file_size, eh->e_phoff, (uint64_t)phnum * sizeof(Elf64_Phdr))))
		return -EINVAL;
	e->loads = calloc(phnum ? phnum : 1, sizeof(*e->loads));
	if (!e->loads)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e->elf, i, &ph))
			return -EINVAL;
		if (ph.p_type != PT_LOAD)
			continue;
		if (!in_file(e->file_size, ph.p_offset, ph.p_filesz) || ph.p_filesz > ph.p_memsz ||
		    ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			return -EINVAL;
		e->loads[e->nloads++] = (struct uvs_elf_load){
			.vaddr = ph.p_vaddr, .memsz = ph.p_memsz,
			.offset = ph.p_offset, .filesz = ph.p_filesz,
		};
	}
	/* An executable or shared object without a PT_LOAD cannot be mapped: not worth tracing. */
	if (!e->nloads)
		return -EINVAL;
	e->load_base = e->loads[0].vaddr - e->loads[0].offset;
	for (i = 0; i < e->nloads; i++) {
		if (e->loads[i].offset == 0) {
			e->load_base = e->loads[i].vaddr;
			break;
		}
	}
	return 0;
}

/* Checks a symbol table's header and its string table; -EINVAL if unusable. */
static int check_symtab(struct uvs_elf *e, size_t shnum, const GElf_Shdr *sh)
{
	GElf_Shdr str;
	Elf_Scn *scn;

	if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_size % sizeof(Elf64_Sym) ||
	    sh->sh_size / sizeof(Elf64_Sym) > UVS_ELF_MAX_SYMS || (sh->sh_flags & SHF_COMPRESSED))
		return -EINVAL;
	if (sh->sh_link == 0 || sh->sh_link >= shnum)
		return -EINVAL;
	scn = elf_getscn(e->elf, sh->sh_link);
	if (!scn || !gelf_getshdr(scn, &str) || str.sh_type != SHT_STRTAB ||
	    (str.sh_flags & SHF_COMPRESSED))
		return -EINVAL;
	return 0;
}

/* Checks every section header against the file and remembers .symtab and .dynsym. */
static int load_shdrs(struct uvs_elf *e, const GElf_Ehdr *eh)
{
	size_t shnum, i;
	int err;

	if (elf_getshdrnum(e->elf, &shnum))
		return -EINVAL;
	/* libelf reports 0 sections when the table lies past the end: that is corruption. */
	if (shnum == 0 && (eh->e_shoff || eh->e_shnum))
		return -EINVAL;
	if (shnum == 0)
		return 0; /* section headers removed (sstrip): no symbols, still mappable */
	if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_file(e->file_size, eh->e_shoff, (uint64_t)shnum * sizeof(Elf64_Shdr)))
		return -EINVAL;
	for (i = 1; i < shnum; i++) {
		Elf_Scn *scn = elf_getscn(e->elf, i);
		struct uvs_elf_symtab *t = NULL;
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh))
			return -EINVAL;
		if (sh.sh_type != SHT_NOBITS && !in_file(e->file_size, sh.sh_offset, sh.sh_size))
			return -EINVAL;
		if (sh.sh_type == SHT_SYMTAB)
			t = &e->symtab;
		else if (sh.sh_type == SHT_DYNSYM)
			t = &e->dynsym;
		if (!t || t->scn)
			continue; /* not a symbol table, or a second one: ld never emits that */
		err = check_symtab(e, shnum, &sh);
		if (err)
			return err;
		t->scn = scn;
		t->strndx = sh.sh_link;
	}
	return 0;
}

/* libelf on e->fd, with the ELF header checked for what we handle. */
static int begin(struct uvs_elf *e, GElf_Ehdr *eh)
{
	e->elf = elf_begin(e->fd, ELF_C_READ, NULL);
	if (!e->elf)
		return -EINVAL;
	if (elf_kind(e->elf) != ELF_K_ELF)
		return -ENOEXEC;
	if (!gelf_getehdr(e->elf, eh))
		return -EINVAL;
	if (eh->e_machine != EM_X86_64 || (eh->e_type != ET_EXEC && eh->e_type != ET_DYN))
		return -ENOEXEC;
	return 0;
}

/* Validates the file behind e->fd; 0, or -ENOEXEC / -EINVAL / -errno. */
static int setup(struct uvs_elf *e)
{
	unsigned char ident[EI_NIDENT];
	GElf_Ehdr eh;
	struct stat st;
	ssize_t n;
	int err;

	if (fstat(e->fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	e->file_size = st.st_size;

	/* Sort "not an ELF we handle" (ENOEXEC) from "a broken one" (EINVAL) before libelf. */
	n = pread(e->fd, ident, sizeof(ident), 0);
	if (n < 0)
		return -errno;
	if (n < SELFMAG || memcmp(ident, ELFMAG, SELFMAG))
		return -ENOEXEC;
	if (n < EI_NIDENT)
		return -EINVAL;
	if (ident[EI_CLASS] != ELFCLASS64 || ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOTSUP;
	err = begin(e, &eh);
	if (err)
		return err;
	e->type = eh.e_type;

	err = load_phdrs(e, &eh);
	if (!err)
		err = load_shdrs(e, &eh);
	return err;
}

/*
 * libelf keeps every section's data it has read until elf_end, and has no call to free one:
 * begin again on the same fd. The section headers are checked again (the file may have
 * changed under us; then it is treated as having no symbols). The segments stay as read.
 */
int uvs_elf_drop_tables(struct uvs_elf *e)
{
	GElf_Ehdr eh;
	int err;

	if (!e)
		return 0;
	if (e->elf)
		elf_end(e->elf);
	e->elf = NULL;
	memset(&e->symtab, 0, sizeof(e->symtab));
	memset(&e->dynsym, 0, sizeof(e->dynsym));
	err = begin(e, &eh);
	if (!err && eh.e_type != e->type)
		err = -EINVAL;
	if (!err)
		err = load_shdrs(e, &eh);
	if (err) {
		if (e->elf)
			elf_end(e->elf);
		e->elf = NULL;
		memset(&e->symtab, 0, sizeof(e->symtab));
		memset(&e->dynsym, 0, sizeof(e->dynsym));
		return -EINVAL;
	}
	return 0;
}

/* Takes ownership of fd: it ends up in the result or is closed. */
static struct uvs_elf *open_owned(int fd)
{
	struct uvs_elf *e;
	int err;

	e = calloc(1, sizeof(*e));
	if (!e) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	e->fd = fd;
	err = setup(e);
	if (err) {
		uvs_elf_close(e);
		errno = -err;
		return NULL;
	}
	return e;
}

struct uvs_elf *uvs_elf_open(const char *path)
{
	int fd;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	/* O_NONBLOCK: a FIFO planted where a binary should be must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	return open_owned(fd);
}

struct uvs_elf *uvs_elf_open_fd(int fd)
{
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup_fd < 0)
		return NULL;
	return open_owned(dup_fd);
}

void uvs_elf_close(struct uvs_elf *elf)
{
	if (!elf)
		return;
	if (elf->elf)
		elf_end(elf->elf);
	if (elf->fd >= 0)
		close(elf->fd);
	free(elf->loads);
	free(elf);
}

/* The PT_LOAD containing vaddr in [p_vaddr, p_vaddr + p_memsz), or NULL. */
static const struct uvs_elf_load *load_of(const struct uvs_elf *e, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < e->nloads; i++) {
		const struct uvs_elf_load *l = &e->loads[i];

		if (vaddr >= l->vaddr && vaddr - l->vaddr < l->memsz)
			return l;
	}
	return NULL;
}

/* The symbols of table t as an array; -EINVAL if libelf cannot read it. */
static int get_syms(const struct uvs_elf_symtab *t, const Elf64_Sym **syms, size_t *n)
{
	Elf_Data *d;

	*n = 0;
	if (!t->scn)
		return 0;
	d = elf_getdata(t->scn, NULL);
	/* ELFCLASS64 on a little-endian host: libelf hands us an array of Elf64_Sym. */
	if (!d || d->d_type != ELF_T_SYM || !d->d_buf)
		return -EINVAL;
	*syms = d->d_buf;
	*n = d->d_size / sizeof(Elf64_Sym);
	if (*n > UVS_ELF_MAX_SYMS)
		*n = UVS_ELF_MAX_SYMS;
	return 0;
}

static bool is_kind(const Elf64_Sym *s, enum uvs_sym_kind kind)
{
	unsigned char type = ELF64_ST_TYPE(s->st_info);

	/* SHN_ABS values are not relocated with the object, so they cannot name its bytes. */
	if (s->st_shndx == SHN_UNDEF || s->st_shndx == SHN_ABS)
		return false;
	if (kind == UVS_SYM_FUNC)
		return type == STT_FUNC || type == STT_GNU_IFUNC;
	return type == STT_OBJECT;
}

/* Fills out for s; -ENOENT if its address has no place in the file (functions need bytes). */
static int fill(const struct uvs_elf *e, const Elf64_Sym *s, enum uvs_sym_kind kind,
		bool dyn, struct uvs_elf_symbol *out)
{
	const struct uvs_elf_load *l = load_of(e, s->st_value);

	if (!l || (kind == UVS_SYM_FUNC && s->st_value - l->vaddr >= l->filesz))
		return -ENOENT;
	out->addr = s->st_value;
	out->size = s->st_size;
	out->file_offset = s->st_value - l->vaddr + l->offset;
	out->from_dynsym = dyn;
	return 0;
}

/*
 * GCC names outlined pieces and clones of a function "f.cold", "f.part.0", "f.isra.0",
 * "f.constprop.0": mangled and C names never contain a dot otherwise.
 */
static bool is_clone(const char *rest)
{
	return strchr(rest, '.') != NULL;
}

static bool is_cold(const char *rest)
{
	return strstr(rest, ".cold") != NULL;
}

/*
 * Shared scan: name matches exactly, or as a prefix when prefix is set. A prefix match prefers
 * a name that is not a GCC clone, settles for a clone, and never returns a ".cold" piece: it is
 * no function entry, a uprobe there would fire mid-function if at all.
 */
static int find(struct uvs_elf *e, const char *name, bool prefix, enum uvs_sym_kind kind,
		struct uvs_elf_symbol *out)
{
	const struct uvs_elf_symtab *tables[2];
	struct uvs_elf_symbol clone;
	bool have_clone = false;
	size_t len, t, i, n;
	int ret = -ENOENT;

	if (!e || !name || !*name || !out)
		return -EINVAL;
	tables[0] = &e->symtab;
	tables[1] = &e->dynsym;
	len = strlen(name);
	for (t = 0; t < 2; t++) {
		const Elf64_Sym *syms = NULL;

		if (get_syms(tables[t], &syms, &n)) {
			ret = -EINVAL; /* reported only if the other table does not have it */
			continue;
		}
		for (i = 1; i < n; i++) { /* entry 0 is the reserved null symbol */
			const char *s;

			if (!is_kind(&syms[i], kind))
				continue;
			s = elf_strptr(e->elf, tables[t]->strndx, syms[i].st_name);
			if (!s || (prefix ? strncmp(s, name, len) : strcmp(s, name)))
				continue;
			if (!prefix || !is_clone(s + len)) {
				if (!fill(e, &syms[i], kind, t == 1, out))
					return 0;
			} else if (!have_clone && !is_cold(s + len)) {
				have_clone = !fill(e, &syms[i], kind, t == 1, &clone);
			}
		}
	}
	if (have_clone) {
		*out = clone;
		return 0;
	}
	return ret;
}

int uvs_elf_find_function(struct uvs_elf *elf, const char *name, struct uvs_elf_symbol *out)
{
	return find(elf, name, false, UVS_SYM_FUNC, out);
}

int uvs_elf_find_object(struct uvs_elf *elf, const char *name, struct uvs_elf_symbol *out)
{
	return find(elf, name, false, UVS_SYM_OBJECT, out);
}

int uvs_elf_find_function_prefix(struct uvs_elf *elf, const char *prefix,
				 struct uvs_elf_symbol *out)
{
	return find(elf, prefix, true, UVS_SYM_FUNC, out);
}

int uvs_elf_foreach_function(struct uvs_elf *elf,
			     int (*fn)(void *ctx, const char *name, const struct uvs_elf_symbol *sym),
			     void *ctx)
{
	const struct uvs_elf_symtab *tables[2];
	struct uvs_elf_symbol sym;
	int readable = 0, ret;
	size_t t, i, n;

	if (!elf || !fn)
		return -EINVAL;
	tables[0] = &elf->symtab;
	tables[1] = &elf->dynsym;
	for (t = 0; t < 2; t++) {
		const Elf64_Sym *syms = NULL;

		if (get_syms(tables[t], &syms, &n))
			continue;
		readable++;
		for (i = 1; i < n; i++) {
			const char *s;

			if (!is_kind(&syms[i], UVS_SYM_FUNC) ||
			    fill(elf, &syms[i], UVS_SYM_FUNC, t == 1, &sym))
				continue;
			s = elf_strptr(elf->elf, tables[t]->strndx, syms[i].st_name);
			if (s && (ret = fn(ctx, s, &sym)))
				return ret;
		}
	}
	return readable ? 0 : -EINVAL;
}

int uvs_elf_imports(struct uvs_elf *elf, const char *name)
{
	const Elf64_Sym *syms = NULL;
	size_t i, n;

	if (!elf || !name || !*name)
		return -EINVAL;
	if (get_syms(&elf->dynsym, &syms, &n))
		return -EINVAL;
	for (i = 1; i < n; i++) {
		const char *s;

		if (syms[i].st_shndx != SHN_UNDEF || !syms[i].st_name)
			continue;
		s = elf_strptr(elf->elf, elf->dynsym.strndx, syms[i].st_name);
		if (s && strcmp(s, name) == 0)
			return 1;
	}
	return 0;
}

int uvs_elf_symbol_at(struct uvs_elf *elf, uint64_t addr, char *name, size_t cap, uint64_t *start)
{
	const struct uvs_elf_symtab *tables[2];
	size_t t, i, n;
	int ret = -ENOENT;

	if (!elf || (!name && cap))
		return -EINVAL;
	tables[0] = &elf->symtab;
	tables[1] = &elf->dynsym;
	for (t = 0; t < 2; t++) {
		const Elf64_Sym *syms = NULL;

		if (get_syms(tables[t], &syms, &n)) {
			ret = -EINVAL;
			continue;
		}
		for (i = 1; i < n; i++) {
			const Elf64_Sym *s = &syms[i];
			const char *str;

			if (!is_kind(s, UVS_SYM_FUNC) || addr < s->st_value ||
			    addr - s->st_value >= s->st_size)
				continue;
			str = elf_strptr(elf->elf, tables[t]->strndx, s->st_name);
			if (!str)
				continue;
			if (cap)
				snprintf(name, cap, "%s", str);
			if (start)
				*start = s->st_value;
			return 0;
		}
	}
	return ret;
}

bool uvs_elf_is_dyn(const struct uvs_elf *elf)
{
	return elf && elf->type == ET_DYN;
}

bool uvs_elf_has_symtab(const struct uvs_elf *elf)
{
	return elf && elf->symtab.scn;
}

/* Looks for a GNU build-id note in d; 0 when found (copied or -ENOSPC), else -ENOENT. */
static int scan_notes(Elf_Data *d, uint8_t *buf, size_t cap, size_t *len)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const char *p = d->d_buf;

		off = next;
		if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != sizeof(ELF_NOTE_GNU) ||
		    nh.n_descsz == 0 || !in_file(d->d_size, name_off, nh.n_namesz) ||
		    !in_file(d->d_size, desc_off, nh.n_descsz) ||
		    memcmp(p + name_off, ELF_NOTE_GNU, sizeof(ELF_NOTE_GNU)))
			continue;
		*len = nh.n_descsz;
		if (nh.n_descsz > cap)
			return -ENOSPC;
		memcpy(buf, p + desc_off, nh.n_descsz);
		return 0;
	}
	return -ENOENT;
}

int uvs_elf_build_id(struct uvs_elf *elf, uint8_t *buf, size_t cap, size_t *len)
{
	Elf_Scn *scn = NULL;
	size_t phnum, i;
	int ret;

	if (!elf || (!buf && cap) || !len)
		return -EINVAL;
	/* The loader's view first: PT_NOTE survives even when section headers are gone. */
	if (elf_getphdrnum(elf->elf, &phnum))
		phnum = 0;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (!gelf_getphdr(elf->elf, i, &ph) || ph.p_type != PT_NOTE || !ph.p_filesz ||
		    !in_file(elf->file_size, ph.p_offset, ph.p_filesz))
			continue;
		d = elf_getdata_rawchunk(elf->elf, ph.p_offset, ph.p_filesz,
					 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		if (d && d->d_buf) {
			ret = scan_notes(d, buf, cap, len);
			if (ret != -ENOENT)
				return ret;
		}
	}
	while ((scn = elf_nextscn(elf->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || (sh.sh_flags & SHF_COMPRESSED))
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_buf) {
			ret = scan_notes(d, buf, cap, len);
			if (ret != -ENOENT)
				return ret;
		}
	}
	return -ENOENT;
}

void uvs_elf_build_id_hex(const uint8_t *id, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (!out || !cap)
		return;
	for (i = 0; i < len && o + 1 < cap; i++) {
		out[o++] = hex[id[i] >> 4];
		if (o + 1 < cap)
			out[o++] = hex[id[i] & 0xf];
	}
	out[o] = '\0';
}

int uvs_elf_read(struct uvs_elf *elf, uint64_t file_offset, void *buf, size_t len)
{
	size_t done = 0;

	if (!elf || (!buf && len))
		return -EINVAL;
	if (!in_file(elf->file_size, file_offset, len))
		return -ERANGE;
	while (done < len) {
		ssize_t n = pread(elf->fd, (char *)buf + done, len - done, file_offset + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank after we opened it */
		done += n;
	}
	return 0;
}

int uvs_elf_section_range(struct uvs_elf *elf, const char *name, uint64_t *offset,
			  uint64_t *size)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!elf || !name || !offset || !size)
		return -EINVAL;
	if (elf_getshdrstrndx(elf->elf, &shstrndx))
		return -ENOENT; /* no section headers, hence no names */
	while ((scn = elf_nextscn(elf->elf, scn))) {
		const char *s;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    (sh.sh_flags & SHF_COMPRESSED))
			continue;
		/* elf_strptr() checks the index, the offset and the NUL inside .shstrtab. */
		s = elf_strptr(elf->elf, shstrndx, sh.sh_name);
		if (!s || strcmp(s, name))
			continue;
		/* Checked at open; again because callers read the range without libelf. */
		if (!in_file(elf->file_size, sh.sh_offset, sh.sh_size))
			return -EINVAL;
		*offset = sh.sh_offset;
		*size = sh.sh_size;
		return 0;
	}
	return -ENOENT;
}

int uvs_elf_vaddr_to_offset(struct uvs_elf *elf, uint64_t vaddr, uint64_t *offset)
{
	const struct uvs_elf_load *l;

	if (!elf || !offset)
		return -EINVAL;
	l = load_of(elf, vaddr);
	if (!l)
		return -ENOENT;
	*offset = vaddr - l->vaddr + l->offset;
	return 0;
}

int uvs_elf_read_vaddr(struct uvs_elf *elf, uint64_t vaddr, void *buf, size_t len)
{
	const struct uvs_elf_load *l;
	uint64_t rel, in_file;

	if (!elf || (!buf && len))
		return -EINVAL;
	l = load_of(elf, vaddr);
	if (!l)
		return -ENOENT;
	rel = vaddr - l->vaddr;
	if (len > l->memsz - rel)
		return -ERANGE;
	/* What the loader does: file bytes up to p_filesz, zeros after (.bss). */
	in_file = rel < l->filesz ? l->filesz - rel : 0;
	if (in_file > len)
		in_file = len;
	memset((uint8_t *)buf + in_file, 0, len - in_file);
	return in_file ? uvs_elf_read(elf, l->offset + rel, buf, in_file) : 0;
}

uint64_t uvs_elf_load_base(const struct uvs_elf *elf)
{
	return elf ? elf->load_base : 0;
}

/* Whether section shndx is executable, and where it ends; false for an unreadable index. */
static bool section_of(struct uvs_elf *e, size_t shndx, bool *exec, uint64_t *end)
{
	Elf_Scn *scn = elf_getscn(e->elf, shndx);
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh))
		return false;
	*exec = (sh.sh_flags & SHF_EXECINSTR) != 0;
	*end = sh.sh_addr + sh.sh_size < sh.sh_addr ? UINT64_MAX : sh.sh_addr + sh.sh_size;
	return true;
}

int uvs_elf_foreach_symbol(struct uvs_elf *elf, size_t max_per_table,
			   int (*fn)(const struct uvs_elf_sym_entry *sym, void *arg), void *arg)
{
	const struct uvs_elf_symtab *tables[2];
	size_t t, i, n;
	int ret;

	if (!elf || !fn)
		return -EINVAL;
	tables[0] = &elf->symtab;
	tables[1] = &elf->dynsym;
	for (t = 0; t < 2; t++) {
		const Elf64_Sym *syms = NULL;
		/* Symbols come grouped by section: look each section up once per run of them. */
		size_t last_shndx = SHN_UNDEF;
		bool last_ok = false, exec = false;
		uint64_t end = 0;

		if (get_syms(tables[t], &syms, &n))
			return -EINVAL;
		if (n > max_per_table)
			n = max_per_table;
		for (i = 1; i < n; i++) { /* entry 0 is the reserved null symbol */
			const Elf64_Sym *s = &syms[i];
			struct uvs_elf_sym_entry out;

			/* SHN_XINDEX (huge section counts) is skipped too: no real object needs it. */
			if (s->st_shndx == SHN_UNDEF || s->st_shndx >= SHN_LORESERVE || !s->st_name)
				continue;
			if (s->st_shndx != last_shndx) {
				last_shndx = s->st_shndx;
				last_ok = section_of(elf, s->st_shndx, &exec, &end);
			}
			if (!last_ok)
				continue;
			out.name = elf_strptr(elf->elf, tables[t]->strndx, s->st_name);
			if (!out.name || !*out.name)
				continue;
			out.value = s->st_value;
			out.size = s->st_size;
			out.name_offset = s->st_name;
			out.section_end = end;
			out.type = ELF64_ST_TYPE(s->st_info);
			out.bind = ELF64_ST_BIND(s->st_info);
			out.exec_section = exec;
			out.from_dynsym = t == 1;
			ret = fn(&out, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int uvs_elf_string_table(struct uvs_elf *elf, bool dynsym, uint64_t *offset, uint64_t *size)
{
	const struct uvs_elf_symtab *t;
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (!elf || !offset || !size)
		return -EINVAL;
	t = dynsym ? &elf->dynsym : &elf->symtab;
	if (!t->scn || !elf->elf)
		return -ENOENT;
	/* check_symtab() made sure it is an uncompressed SHT_STRTAB, load_shdrs() that it is
	 * inside the file. */
	scn = elf_getscn(elf->elf, t->strndx);
	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_STRTAB ||
	    !in_file(elf->file_size, sh.sh_offset, sh.sh_size))
		return -ENOENT;
	*offset = sh.sh_offset;
	*size = sh.sh_size;
	return 0;
}

int uvs_elf_dup_fd(const struct uvs_elf *elf)
{
	int fd;

	if (!elf)
		return -EINVAL;
	fd = fcntl(elf->fd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

size_t uvs_elf_segments(const struct uvs_elf *elf, struct uvs_elf_segment *out, size_t cap)
{
	size_t i;

	if (!elf)
		return 0;
	for (i = 0; i < elf->nloads && i < cap; i++)
		out[i] = (struct uvs_elf_segment){
			.vaddr = elf->loads[i].vaddr, .memsz = elf->loads[i].memsz,
			.offset = elf->loads[i].offset, .filesz = elf->loads[i].filesz,
		};
	return elf->nloads;
}
