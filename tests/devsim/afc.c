/* afc.c: com.apple.crashreportcopymobile, the AFC server confined to CrashReporter/ */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "devsim.h"

#define AFC_HEADER	40
#define AFC_MAX_REQUEST (1024 * 1024)
#define AFC_MAX_READ	(8u * 1024 * 1024)
#define AFC_MAX_FILES	32
#define AFC_MAX_PATH	1024
#define AFC_DEEP_NAME	"deep-tree" /* the deep-tree fault's virtual directory */

enum {
	AFC_OP_STATUS = 0x01,
	AFC_OP_DATA = 0x02,
	AFC_OP_READ_DIR = 0x03,
	AFC_OP_REMOVE_PATH = 0x08,
	AFC_OP_GET_FILE_INFO = 0x0a,
	AFC_OP_GET_DEVINFO = 0x0b,
	AFC_OP_FILE_OPEN = 0x0d,
	AFC_OP_FILE_OPEN_RES = 0x0e,
	AFC_OP_FILE_READ = 0x0f,
	AFC_OP_FILE_SEEK = 0x11,
	AFC_OP_FILE_TELL = 0x12,
	AFC_OP_FILE_TELL_RES = 0x13,
	AFC_OP_FILE_CLOSE = 0x14,
	AFC_OP_REMOVE_PATH_AND_CONTENTS = 0x22,
	AFC_OP_LAST = 0x28,
};

enum {
	AFC_E_SUCCESS = 0,
	AFC_E_UNKNOWN_ERROR = 1,
	AFC_E_NO_RESOURCES = 3,
	AFC_E_READ_ERROR = 4,
	AFC_E_INVALID_ARG = 7,
	AFC_E_OBJECT_NOT_FOUND = 8,
	AFC_E_OBJECT_IS_DIR = 9,
	AFC_E_PERM_DENIED = 10,
	AFC_E_OP_NOT_SUPPORTED = 15,
	AFC_E_IO_ERROR = 20,
};

struct afc_file {
	uint64_t handle; /* 0: free slot */
	int fd;
};

struct afc {
	char root[PATH_MAX];
	size_t root_len;
	struct afc_file files[AFC_MAX_FILES];
	uint64_t next_handle;
	uint64_t file_bytes;
	bool stalled; /* fault stall-after fired: replies are held until the close */
};

static uint64_t get_le64(const char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

static void put_le64(char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (char)(v & 0xff);
}

void afc_free(struct afc *a)
{
	if (!a)
		return;
	for (int i = 0; i < AFC_MAX_FILES; i++)
		if (a->files[i].handle)
			close(a->files[i].fd);
	free(a);
}

int afc_start(struct conn *c)
{
	struct afc *a = calloc(1, sizeof(*a));

	if (!a) {
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	c->afc = a;
	if (!realpath(c->phone->crash_dir, a->root)) {
		log_err("conn %u afc %s: cannot resolve '%s': %s", c->id, c->phone->udid,
			c->phone->crash_dir, strerror(errno));
		conn_close(c, "no crash directory");
		return -ENOENT;
	}
	a->root_len = strlen(a->root);
	a->next_handle = 1;
	return 0;
}

/*
 * Normalise an AFC path ("", ".", "/", "./a", "/a/b", "a/../b") into a path relative to
 * the AFC root without "." or ".." components. Returns -EPERM if ".." would leave the root.
 */
static int afc_path_normalize(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	const char *s = in;

	out[0] = '\0';
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* skip */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (o == 0)
				return -EPERM;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			out[o] = '\0';
		} else {
			if (o + n + 2 > outlen)
				return -ENAMETOOLONG;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, s, n);
			o += n;
			out[o] = '\0';
		}
		s += n;
		if (*s == '/')
			s++;
	}
	return 0;
}

static bool afc_inside(const struct afc *a, const char *real)
{
	return !strncmp(real, a->root, a->root_len) &&
	       (real[a->root_len] == '\0' || real[a->root_len] == '/');
}

/* resolve an AFC path to a host path inside the root; returns an AFC status */
static int afc_resolve(struct afc *a, const char *path, bool follow, char *out, bool *is_root)
{
	char rel[AFC_MAX_PATH], full[PATH_MAX + AFC_MAX_PATH + 2], parent[PATH_MAX];
	char *slash;
	const char *base;
	size_t lp, lb;
	int r;

	*is_root = false;
	r = afc_path_normalize(path, rel, sizeof(rel));
	if (r == -EPERM)
		return AFC_E_PERM_DENIED;
	if (r < 0)
		return AFC_E_INVALID_ARG;
	if (!rel[0]) {
		*is_root = true;
		memcpy(out, a->root, a->root_len + 1);
		return AFC_E_SUCCESS;
	}
	snprintf(full, sizeof(full), "%s/%s", a->root, rel);
	slash = strrchr(full, '/');
	*slash = '\0';
	base = slash + 1;
	if (!realpath(full, parent))
		return errno == ENOENT || errno == ENOTDIR ? AFC_E_OBJECT_NOT_FOUND
							   : AFC_E_PERM_DENIED;
	if (!afc_inside(a, parent))
		return AFC_E_PERM_DENIED;
	lp = strlen(parent);
	lb = strlen(base);
	if (lp + lb + 2 > PATH_MAX)
		return AFC_E_INVALID_ARG;
	memmove(full + lp + 1, base, lb + 1);
	memcpy(full, parent, lp);
	full[lp] = '/';
	if (!follow) {
		memcpy(out, full, lp + lb + 2);
		return AFC_E_SUCCESS;
	}
	if (!realpath(full, out))
		return errno == ENOENT || errno == ENOTDIR ? AFC_E_OBJECT_NOT_FOUND
							   : AFC_E_PERM_DENIED;
	if (!afc_inside(a, out))
		return AFC_E_PERM_DENIED;
	*is_root = strlen(out) == a->root_len;
	return AFC_E_SUCCESS;
}

static int afc_errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return AFC_E_OBJECT_NOT_FOUND;
	case EACCES:
	case EPERM:
	case EROFS:
		return AFC_E_PERM_DENIED;
	case EISDIR:
		return AFC_E_OBJECT_IS_DIR;
	case ENOTEMPTY:
	case EEXIST:
		return AFC_E_UNKNOWN_ERROR;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return AFC_E_NO_RESOURCES;
	default:
		return AFC_E_IO_ERROR;
	}
}

/* send w, or hold it back when a stall fault is set */
static void afc_send(struct conn *c, void *w)
{
	if (c->phone && (c->phone->stall_forever || (c->afc && c->afc->stalled)))
		conn_hold(c, w);
	else if (c->phone && c->phone->stall_ms > 0)
		conn_delay(c, c->phone->stall_ms, w);
	else
		conn_wbuf_send(c, w);
}

static void *afc_packet(uint64_t pnum, uint64_t op, size_t hlen, size_t dlen, char **payload)
{
	char *p;
	void *w = conn_wbuf_new(AFC_HEADER + hlen + dlen, &p);

	if (!w)
		return NULL;
	memcpy(p, "CFA6LPAA", 8);
	put_le64(p + 8, AFC_HEADER + hlen + dlen);
	put_le64(p + 16, AFC_HEADER + hlen);
	put_le64(p + 24, pnum);
	put_le64(p + 32, op);
	*payload = p + AFC_HEADER;
	return w;
}

static void afc_status(struct conn *c, uint64_t pnum, uint64_t status)
{
	char *p;
	void *w = afc_packet(pnum, AFC_OP_STATUS, 8, 0, &p);

	if (!w) {
		conn_close(c, "out of memory");
		return;
	}
	put_le64(p, status);
	if (c->ds->verbose && status)
		log_msg("conn %u afc %s: status %llu", c->id, c->phone->udid,
			(unsigned long long)status);
	afc_send(c, w);
}

static void afc_u64_reply(struct conn *c, uint64_t pnum, uint64_t op, uint64_t v)
{
	char *p;
	void *w = afc_packet(pnum, op, 8, 0, &p);

	if (!w) {
		conn_close(c, "out of memory");
		return;
	}
	put_le64(p, v);
	afc_send(c, w);
}

static void afc_data(struct conn *c, uint64_t pnum, const char *data, size_t len)
{
	char *p;
	void *w = afc_packet(pnum, AFC_OP_DATA, 0, len, &p);

	if (!w) {
		conn_close(c, "out of memory");
		return;
	}
	memcpy(p, data, len);
	afc_send(c, w);
}

/* growable NUL-separated string list */
struct strlist {
	char *buf;
	size_t len, cap;
};

static int strlist_add(struct strlist *l, const char *s)
{
	size_t n = strlen(s) + 1;

	if (l->len + n > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		char *b;

		while (cap < l->len + n)
			cap *= 2;
		b = realloc(l->buf, cap);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	return 0;
}

static int strlist_addu(struct strlist *l, const char *key, unsigned long long v)
{
	char num[32];

	snprintf(num, sizeof(num), "%llu", v);
	return strlist_add(l, key) < 0 || strlist_add(l, num) < 0 ? -ENOMEM : 0;
}

/* is path in the deep-tree fault's virtual tree: deep-tree, deep-tree/d0, deep-tree/d0/d3...? */
static bool afc_deep(const struct conn *c, const char *path)
{
	unsigned fan = c->phone->deep_fanout;
	size_t n = strlen(AFC_DEEP_NAME);
	char rel[AFC_MAX_PATH];
	const char *s;

	if (!fan || afc_path_normalize(path, rel, sizeof(rel)) < 0)
		return false;
	if (strncmp(rel, AFC_DEEP_NAME, n) || (rel[n] && rel[n] != '/'))
		return false;
	for (s = rel + n; *s;) {
		char *end;
		unsigned long k;

		s++; /* the '/' */
		if (s[0] != 'd' || !isdigit((unsigned char)s[1]))
			return false;
		k = strtoul(s + 1, &end, 10);
		if (k >= fan || (*end && *end != '/'))
			return false;
		s = end;
	}
	return true;
}

/* a virtual deep-tree directory always holds deep_fanout more: d0, d1, ... */
static void afc_deep_read_dir(struct conn *c, uint64_t pnum)
{
	struct strlist l = {0};
	char name[16];
	int bad = strlist_add(&l, ".") | strlist_add(&l, "..");

	for (unsigned i = 0; i < c->phone->deep_fanout; i++) {
		snprintf(name, sizeof(name), "d%u", i);
		bad |= strlist_add(&l, name);
	}
	if (bad)
		afc_status(c, pnum, AFC_E_NO_RESOURCES);
	else
		afc_data(c, pnum, l.buf, l.len);
	free(l.buf);
}

static void afc_read_dir(struct conn *c, uint64_t pnum, const char *path)
{
	char host[PATH_MAX];
	struct strlist l = {0};
	struct dirent *e;
	bool is_root;
	DIR *d;
	int st;

	if (afc_deep(c, path)) {
		afc_deep_read_dir(c, pnum);
		return;
	}
	st = afc_resolve(c->afc, path, true, host, &is_root);
	if (st) {
		afc_status(c, pnum, (uint64_t)st);
		return;
	}
	d = opendir(host);
	if (!d) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	while ((e = readdir(d))) {
		if (strlist_add(&l, e->d_name) < 0) {
			closedir(d);
			free(l.buf);
			afc_status(c, pnum, AFC_E_NO_RESOURCES);
			return;
		}
	}
	closedir(d);
	if (is_root && c->phone->deep_fanout && strlist_add(&l, AFC_DEEP_NAME) < 0) {
		free(l.buf);
		afc_status(c, pnum, AFC_E_NO_RESOURCES);
		return;
	}
	afc_data(c, pnum, l.buf ? l.buf : "", l.len);
	free(l.buf);
}

static const char *ifmt_name(mode_t m)
{
	if (S_ISREG(m))
		return "S_IFREG";
	if (S_ISDIR(m))
		return "S_IFDIR";
	if (S_ISLNK(m))
		return "S_IFLNK";
	if (S_ISBLK(m))
		return "S_IFBLK";
	if (S_ISCHR(m))
		return "S_IFCHR";
	if (S_ISFIFO(m))
		return "S_IFIFO";
	return "S_IFSOCK";
}

static void afc_file_info(struct conn *c, uint64_t pnum, const char *path)
{
	char host[PATH_MAX], target[PATH_MAX];
	struct strlist l = {0};
	struct stat sb;
	bool is_root;
	unsigned long long mtime;
	int st;
	int bad = 0;

	if (afc_deep(c, path)) {
		memset(&sb, 0, sizeof(sb));
		sb.st_mode = S_IFDIR | 0755;
		sb.st_nlink = 2;
		sb.st_size = 64;
	} else if ((st = afc_resolve(c->afc, path, false, host, &is_root)) != 0) {
		afc_status(c, pnum, (uint64_t)st);
		return;
	} else if (lstat(host, &sb) < 0) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	mtime = (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
		(unsigned long long)sb.st_mtim.tv_nsec;
	bad |= strlist_addu(&l, "st_size", (unsigned long long)sb.st_size);
	bad |= strlist_addu(&l, "st_blocks", (unsigned long long)sb.st_blocks);
	bad |= strlist_addu(&l, "st_nlink", (unsigned long long)sb.st_nlink);
	bad |= strlist_add(&l, "st_ifmt");
	bad |= strlist_add(&l, ifmt_name(sb.st_mode));
	bad |= strlist_addu(&l, "st_mtime", mtime);
	bad |= strlist_addu(&l, "st_birthtime", mtime);
	if (S_ISLNK(sb.st_mode)) {
		ssize_t n = readlink(host, target, sizeof(target) - 1);

		if (n >= 0) {
			target[n] = '\0';
			bad |= strlist_add(&l, "LinkTarget");
			bad |= strlist_add(&l, target);
		}
	}
	if (bad)
		afc_status(c, pnum, AFC_E_NO_RESOURCES);
	else
		afc_data(c, pnum, l.buf, l.len);
	free(l.buf);
}

static void afc_dev_info(struct conn *c, uint64_t pnum)
{
	struct strlist l = {0};
	struct statvfs vfs;
	int bad = 0;

	if (statvfs(c->afc->root, &vfs) < 0)
		memset(&vfs, 0, sizeof(vfs));
	bad |= strlist_add(&l, "Model");
	bad |= strlist_add(&l, c->phone->product_type);
	bad |= strlist_addu(&l, "FSTotalBytes", (unsigned long long)vfs.f_blocks * vfs.f_frsize);
	bad |= strlist_addu(&l, "FSFreeBytes", (unsigned long long)vfs.f_bavail * vfs.f_frsize);
	bad |= strlist_addu(&l, "FSBlockSize", (unsigned long long)vfs.f_bsize);
	if (bad)
		afc_status(c, pnum, AFC_E_NO_RESOURCES);
	else
		afc_data(c, pnum, l.buf, l.len);
	free(l.buf);
}

static struct afc_file *afc_file_get(struct afc *a, uint64_t handle)
{
	if (handle == 0)
		return NULL;
	for (int i = 0; i < AFC_MAX_FILES; i++)
		if (a->files[i].handle == handle)
			return &a->files[i];
	return NULL;
}

static void afc_file_open(struct conn *c, uint64_t pnum, uint64_t mode, const char *path)
{
	struct afc *a = c->afc;
	struct afc_file *f = NULL;
	char host[PATH_MAX];
	struct stat sb;
	bool is_root;
	int st, fd;

	if (mode != 1) {
		afc_status(c, pnum, AFC_E_PERM_DENIED);
		return;
	}
	if (afc_deep(c, path)) {
		afc_status(c, pnum, AFC_E_OBJECT_IS_DIR);
		return;
	}
	st = afc_resolve(a, path, true, host, &is_root);
	if (st) {
		afc_status(c, pnum, (uint64_t)st);
		return;
	}
	for (int i = 0; i < AFC_MAX_FILES; i++) {
		if (!a->files[i].handle) {
			f = &a->files[i];
			break;
		}
	}
	if (!f) {
		afc_status(c, pnum, AFC_E_NO_RESOURCES);
		return;
	}
	fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		afc_status(c, pnum, S_ISDIR(sb.st_mode) ? AFC_E_OBJECT_IS_DIR : AFC_E_PERM_DENIED);
		return;
	}
	f->fd = fd;
	f->handle = a->next_handle++;
	if (a->next_handle >= UINT32_MAX)
		a->next_handle = 1;
	afc_u64_reply(c, pnum, AFC_OP_FILE_OPEN_RES, f->handle);
}

static void afc_file_read(struct conn *c, uint64_t pnum, uint64_t handle, uint64_t want)
{
	struct afc *a = c->afc;
	struct afc_file *f = afc_file_get(a, handle);
	struct phone *p = c->phone;
	bool drop = false, stall = false;
	size_t n, got = 0;
	char *d;
	void *w;

	if (!f) {
		afc_status(c, pnum, AFC_E_INVALID_ARG);
		return;
	}
	n = want > AFC_MAX_READ ? AFC_MAX_READ : (size_t)want;
	if (p->drop_after >= 0 && a->file_bytes + n > (uint64_t)p->drop_after) {
		n = (uint64_t)p->drop_after > a->file_bytes
			    ? (size_t)((uint64_t)p->drop_after - a->file_bytes)
			    : 0;
		drop = true;
	}
	if (!drop && p->stall_after >= 0 && a->file_bytes + n > (uint64_t)p->stall_after) {
		n = (uint64_t)p->stall_after > a->file_bytes
			    ? (size_t)((uint64_t)p->stall_after - a->file_bytes)
			    : 0;
		stall = true;
	}
	w = afc_packet(pnum, AFC_OP_DATA, 0, n, &d);
	if (!w) {
		conn_close(c, "out of memory");
		return;
	}
	while (got < n) {
		ssize_t r = read(f->fd, d + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			conn_wbuf_free(w);
			afc_status(c, pnum, AFC_E_READ_ERROR);
			return;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	a->file_bytes += got;
	if (drop && got < n)
		drop = false; /* end of file came first */
	conn_wbuf_trim(w, AFC_HEADER + got);
	/* entire_length must match the trimmed size */
	put_le64(d - AFC_HEADER + 8, AFC_HEADER + got);
	if (stall && !(got < n)) {
		/* the bytes up to the mark go out; this read's rest and every later reply wait */
		if (got > 0)
			afc_send(c, w);
		else
			conn_hold(c, w);
		a->stalled = true;
		p->stall_after = -1;
		log_msg("conn %u afc %s: fault: stalling after %llu file bytes", c->id, p->udid,
			(unsigned long long)a->file_bytes);
		return;
	}
	if (!drop) {
		afc_send(c, w);
		return;
	}
	if (got > 0)
		conn_wbuf_send(c, w);
	else
		conn_wbuf_free(w);
	log_msg("conn %u afc %s: fault: dropping the connection after %llu file bytes", c->id,
		p->udid, (unsigned long long)a->file_bytes);
	p->drop_after = -1;
	conn_close_after_link(c, "fault drop-after");
}

static void afc_file_close(struct conn *c, uint64_t pnum, uint64_t handle)
{
	struct afc_file *f = afc_file_get(c->afc, handle);

	if (!f) {
		afc_status(c, pnum, AFC_E_INVALID_ARG);
		return;
	}
	close(f->fd);
	f->handle = 0;
	f->fd = -1;
	afc_status(c, pnum, AFC_E_SUCCESS);
}

static void afc_file_seek(struct conn *c, uint64_t pnum, const char *hp, size_t hlen)
{
	struct afc_file *f;
	uint64_t whence;
	int64_t off;

	if (hlen < 24) {
		afc_status(c, pnum, AFC_E_INVALID_ARG);
		return;
	}
	f = afc_file_get(c->afc, get_le64(hp));
	whence = get_le64(hp + 8);
	off = (int64_t)get_le64(hp + 16);
	if (!f || whence > 2) {
		afc_status(c, pnum, AFC_E_INVALID_ARG);
		return;
	}
	if (lseek(f->fd, off, (int)whence) < 0) {
		afc_status(c, pnum, AFC_E_INVALID_ARG);
		return;
	}
	afc_status(c, pnum, AFC_E_SUCCESS);
}

static void afc_file_tell(struct conn *c, uint64_t pnum, uint64_t handle)
{
	struct afc_file *f = afc_file_get(c->afc, handle);
	off_t pos;

	if (!f || (pos = lseek(f->fd, 0, SEEK_CUR)) < 0) {
		afc_status(c, pnum, AFC_E_INVALID_ARG);
		return;
	}
	afc_u64_reply(c, pnum, AFC_OP_FILE_TELL_RES, (uint64_t)pos);
}

static void afc_remove(struct conn *c, uint64_t pnum, const char *path)
{
	char host[PATH_MAX];
	struct stat sb;
	bool is_root;
	int st = afc_resolve(c->afc, path, false, host, &is_root);

	if (!st && is_root)
		st = AFC_E_PERM_DENIED;
	if (st) {
		afc_status(c, pnum, (uint64_t)st);
		return;
	}
	if (lstat(host, &sb) < 0) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	if ((S_ISDIR(sb.st_mode) ? rmdir(host) : unlink(host)) < 0) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	afc_status(c, pnum, AFC_E_SUCCESS);
}

static int rm_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

static void afc_remove_all(struct conn *c, uint64_t pnum, const char *path)
{
	char host[PATH_MAX];
	struct stat sb;
	bool is_root;
	int st = afc_resolve(c->afc, path, false, host, &is_root);

	if (!st && is_root)
		st = AFC_E_PERM_DENIED;
	if (st) {
		afc_status(c, pnum, (uint64_t)st);
		return;
	}
	if (lstat(host, &sb) < 0) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	if (S_ISDIR(sb.st_mode)) {
		if (nftw(host, rm_cb, 16, FTW_DEPTH | FTW_PHYS) < 0) {
			afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
			return;
		}
	} else if (unlink(host) < 0) {
		afc_status(c, pnum, (uint64_t)afc_errno_status(errno));
		return;
	}
	afc_status(c, pnum, AFC_E_SUCCESS);
}

/* copy the path argument: NUL-terminated (libimobiledevice) or not (appium) */
static int afc_path_arg(const char *p, size_t len, char *out, size_t outlen)
{
	const char *nul = memchr(p, '\0', len);

	if (nul)
		len = (size_t)(nul - p);
	if (len >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

static bool afc_op_writes(uint64_t op)
{
	switch (op) {
	case 0x05: /* WRITE_FILE */
	case 0x06: /* WRITE_PART */
	case 0x07: /* TRUNCATE */
	case 0x09: /* MAKE_DIR */
	case 0x0c: /* WRITE_FILE_ATOM */
	case 0x10: /* FILE_WRITE */
	case 0x15: /* FILE_SET_SIZE */
	case 0x18: /* RENAME_PATH */
	case 0x1c: /* MAKE_LINK */
	case 0x1e: /* SET_FILE_MOD_TIME */
	case 0x28: /* FILE_WRITE_OFFSET */
		return true;
	default:
		return false;
	}
}

static const char *afc_op_name(uint64_t op)
{
	switch (op) {
	case AFC_OP_READ_DIR:
		return "READ_DIR";
	case AFC_OP_REMOVE_PATH:
		return "REMOVE_PATH";
	case AFC_OP_GET_FILE_INFO:
		return "GET_FILE_INFO";
	case AFC_OP_GET_DEVINFO:
		return "GET_DEVINFO";
	case AFC_OP_FILE_OPEN:
		return "FILE_OPEN";
	case AFC_OP_FILE_READ:
		return "FILE_READ";
	case AFC_OP_FILE_SEEK:
		return "FILE_SEEK";
	case AFC_OP_FILE_TELL:
		return "FILE_TELL";
	case AFC_OP_FILE_CLOSE:
		return "FILE_CLOSE";
	case AFC_OP_REMOVE_PATH_AND_CONTENTS:
		return "REMOVE_PATH_AND_CONTENTS";
	default:
		return afc_op_writes(op) ? "(write operation)" : "(unsupported)";
	}
}

static bool afc_op_has_path(uint64_t op)
{
	return op == AFC_OP_READ_DIR || op == AFC_OP_REMOVE_PATH || op == AFC_OP_GET_FILE_INFO ||
	       op == AFC_OP_FILE_OPEN || op == AFC_OP_REMOVE_PATH_AND_CONTENTS;
}

size_t afc_handle(struct conn *c, const char *data, size_t len)
{
	uint64_t entire, this_len, pnum, op;
	const char *hp;
	size_t hlen;
	char path[AFC_MAX_PATH];

	if (len < AFC_HEADER)
		return 0;
	if (memcmp(data, "CFA6LPAA", 8)) {
		log_err("conn %u afc %s: bad magic", c->id, c->phone->udid);
		conn_close(c, "bad magic");
		return 0;
	}
	entire = get_le64(data + 8);
	this_len = get_le64(data + 16);
	pnum = get_le64(data + 24);
	op = get_le64(data + 32);
	if (entire < AFC_HEADER || this_len < AFC_HEADER || this_len > entire ||
	    entire > AFC_MAX_REQUEST) {
		log_err("conn %u afc %s: bad packet lengths %llu/%llu", c->id, c->phone->udid,
			(unsigned long long)entire, (unsigned long long)this_len);
		conn_close(c, "bad packet lengths");
		return 0;
	}
	if (op == 0 || op > AFC_OP_LAST) {
		log_err("conn %u afc %s: unknown operation 0x%llx", c->id, c->phone->udid,
			(unsigned long long)op);
		conn_close(c, "unknown operation");
		return 0;
	}
	if (len < entire)
		return 0;
	c->nmsg++;
	hp = data + AFC_HEADER;
	hlen = (size_t)(this_len - AFC_HEADER);
	if (c->ds->verbose) {
		char shown[80];

		afc_path_arg(op == AFC_OP_FILE_OPEN && hlen >= 8 ? hp + 8 : hp,
			     op == AFC_OP_FILE_OPEN && hlen >= 8 ? hlen - 8 : hlen, shown,
			     sizeof(shown));
		log_msg("conn %u afc %s: op %s packet %llu%s%s", c->id, c->phone->udid,
			afc_op_name(op), (unsigned long long)pnum, afc_op_has_path(op) ? " " : "",
			afc_op_has_path(op) ? shown : "");
	}
	switch (op) {
	case AFC_OP_READ_DIR:
	case AFC_OP_GET_FILE_INFO:
	case AFC_OP_REMOVE_PATH:
	case AFC_OP_REMOVE_PATH_AND_CONTENTS:
		if (afc_path_arg(hp, hlen, path, sizeof(path)) < 0) {
			afc_status(c, pnum, AFC_E_INVALID_ARG);
			break;
		}
		if (op == AFC_OP_READ_DIR)
			afc_read_dir(c, pnum, path);
		else if (op == AFC_OP_GET_FILE_INFO)
			afc_file_info(c, pnum, path);
		else if (op == AFC_OP_REMOVE_PATH)
			afc_remove(c, pnum, path);
		else
			afc_remove_all(c, pnum, path);
		break;
	case AFC_OP_GET_DEVINFO:
		afc_dev_info(c, pnum);
		break;
	case AFC_OP_FILE_OPEN:
		if (hlen < 8 || afc_path_arg(hp + 8, hlen - 8, path, sizeof(path)) < 0) {
			afc_status(c, pnum, AFC_E_INVALID_ARG);
			break;
		}
		afc_file_open(c, pnum, get_le64(hp), path);
		break;
	case AFC_OP_FILE_READ:
		if (hlen < 16) {
			afc_status(c, pnum, AFC_E_INVALID_ARG);
			break;
		}
		afc_file_read(c, pnum, get_le64(hp), get_le64(hp + 8));
		break;
	case AFC_OP_FILE_CLOSE:
	case AFC_OP_FILE_TELL:
		if (hlen < 8) {
			afc_status(c, pnum, AFC_E_INVALID_ARG);
			break;
		}
		if (op == AFC_OP_FILE_CLOSE)
			afc_file_close(c, pnum, get_le64(hp));
		else
			afc_file_tell(c, pnum, get_le64(hp));
		break;
	case AFC_OP_FILE_SEEK:
		afc_file_seek(c, pnum, hp, hlen);
		break;
	default:
		afc_status(c, pnum, afc_op_writes(op) ? AFC_E_PERM_DENIED : AFC_E_OP_NOT_SUPPORTED);
		break;
	}
	return (size_t)entire;
}
