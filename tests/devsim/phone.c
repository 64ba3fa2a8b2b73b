/* phone.c: simulated phones: device.json, attach/detach, pair records, service ports */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <plist/plist.h>

#include "devsim.h"

#define PHONE_JSON_MAX	  (1024 * 1024)
#define PHONE_NAME_MAX	  200000 /* device_name bytes: room for hostile 100 000-character names */
#define PHONE_RECORD_MAX  (256 * 1024)
#define PHONE_RECORD_FILE ".devsim-pairrecord.plist"

static const char *const trust_names[] = {
	[TRUST_PAIRED] = "paired",
	[TRUST_UNPAIRED] = "unpaired",
	[TRUST_PENDING] = "pending",
	[TRUST_DENIED] = "denied",
};

const char *phone_trust_name(enum trust t)
{
	return trust_names[t];
}

int phone_trust_parse(const char *s, enum trust *t)
{
	for (size_t i = 0; i < sizeof(trust_names) / sizeof(trust_names[0]); i++) {
		if (!strcmp(s, trust_names[i])) {
			*t = (enum trust)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t phone_hash(const struct phone *p, uint64_t salt)
{
	uint64_t h = 1469598103934665603ull ^ salt;

	for (const char *s = p->udid; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

void phone_wifi_address(const struct phone *p, char *out, size_t outlen)
{
	uint64_t h = phone_hash(p, 1);

	snprintf(out, outlen, "a4:%02x:%02x:%02x:%02x:%02x", (unsigned)(h & 0xff),
		 (unsigned)((h >> 8) & 0xff), (unsigned)((h >> 16) & 0xff),
		 (unsigned)((h >> 24) & 0xff), (unsigned)((h >> 32) & 0xff));
}

void phone_serial_number(const struct phone *p, char *out, size_t outlen)
{
	static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
	uint64_t h = phone_hash(p, 2);
	size_t i;

	for (i = 0; i < 12 && i + 1 < outlen; i++) {
		out[i] = alphabet[h % (sizeof(alphabet) - 1)];
		h /= (sizeof(alphabet) - 1);
		if (h == 0)
			h = phone_hash(p, 3 + i);
	}
	out[i] = '\0';
}

struct phone *phone_by_udid(struct devsim *ds, const char *udid)
{
	for (struct phone *p = ds->phones; p; p = p->next)
		if (!strcmp(p->udid, udid))
			return p;
	return NULL;
}

struct phone *phone_by_id(struct devsim *ds, uint32_t id)
{
	for (struct phone *p = ds->phones; p; p = p->next)
		if (p->device_id == id)
			return p;
	return NULL;
}

static void phone_free(struct phone *p)
{
	if (!p)
		return;
	free(p->product_type);
	free(p->product_version);
	free(p->build_version);
	free(p->device_name);
	free(p->dir);
	free(p->crash_dir);
	free(p->record_path);
	free(p->record);
	free(p);
}

static char *read_file(const char *path, size_t max, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		*err = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		*err = -ENOMEM;
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

static int udid_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= DEVSIM_UDID_MAX)
		return 0;
	for (; *s; s++) {
		char ch = *s;

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '-'))
			return 0;
	}
	return 1;
}

/* parse DIR/device.json into p; unknown keys and wrong types are errors */
static int phone_parse_json(struct phone *p, const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	int r = 0;
	char *text = read_file(path, PHONE_JSON_MAX, &len, &r);
	cJSON *root, *it;
	bool have_udid = false;

	if (!text) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	root = cJSON_ParseWithLength(text, len);
	free(text);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "cannot parse '%s': not a JSON object", path);
		cJSON_Delete(root);
		return -EINVAL;
	}
	r = 0;
	cJSON_ArrayForEach(it, root)
	{
		const char *k = it->string;
		char **dst = NULL;

		if (!strcmp(k, "udid")) {
			if (!cJSON_IsString(it) || !udid_valid(it->valuestring)) {
				snprintf(err, errlen, "'%s': key 'udid' is not a valid udid", path);
				r = -EINVAL;
				break;
			}
			snprintf(p->udid, sizeof(p->udid), "%s", it->valuestring);
			have_udid = true;
			continue;
		} else if (!strcmp(k, "product_type")) {
			dst = &p->product_type;
		} else if (!strcmp(k, "product_version")) {
			dst = &p->product_version;
		} else if (!strcmp(k, "build_version")) {
			dst = &p->build_version;
		} else if (!strcmp(k, "device_name")) {
			dst = &p->device_name;
		} else if (!strcmp(k, "trust")) {
			if (!cJSON_IsString(it) ||
			    phone_trust_parse(it->valuestring, &p->trust) < 0) {
				snprintf(err, errlen,
					 "'%s': key 'trust' must be paired, unpaired, pending or "
					 "denied",
					 path);
				r = -EINVAL;
				break;
			}
			continue;
		} else if (!strcmp(k, "locked")) {
			if (!cJSON_IsBool(it)) {
				snprintf(err, errlen, "'%s': key 'locked' must be true or false",
					 path);
				r = -EINVAL;
				break;
			}
			p->locked = cJSON_IsTrue(it);
			continue;
		} else if (!strcmp(k, "connection")) {
			if (!cJSON_IsString(it) || (strcmp(it->valuestring, "USB") &&
						    strcmp(it->valuestring, "Network"))) {
				snprintf(err, errlen,
					 "'%s': key 'connection' must be USB or Network", path);
				r = -EINVAL;
				break;
			}
			p->network = !strcmp(it->valuestring, "Network");
			continue;
		} else {
			snprintf(err, errlen, "'%s': unknown key '%s'", path, k);
			r = -EINVAL;
			break;
		}
		if (!cJSON_IsString(it) || !it->valuestring[0] ||
		    strlen(it->valuestring) > (dst == &p->device_name ? PHONE_NAME_MAX : 255)) {
			snprintf(err, errlen,
				 "'%s': key '%s' must be a non-empty string (at most %d bytes)",
				 path, k, dst == &p->device_name ? PHONE_NAME_MAX : 255);
			r = -EINVAL;
			break;
		}
		free(*dst);
		*dst = strdup(it->valuestring);
		if (!*dst) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			break;
		}
	}
	cJSON_Delete(root);
	if (r < 0)
		return r;
	if (!have_udid || !p->product_type || !p->product_version || !p->build_version ||
	    !p->device_name) {
		snprintf(err, errlen,
			 "'%s': udid, product_type, product_version, build_version and "
			 "device_name are required",
			 path);
		return -EINVAL;
	}
	return 0;
}

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

/* parse a pair record (XML or binary plist) and return its HostID */
static int record_host_id(const char *data, size_t len, char *out, size_t outlen, char **xml,
			  uint32_t *xlen)
{
	plist_t d = NULL, n;
	uint64_t sl = 0;
	const char *s;

	if (len >= 8 && !memcmp(data, "bplist00", 8))
		plist_from_bin(data, (uint32_t)len, &d);
	else
		plist_from_xml(data, (uint32_t)len, &d);
	if (!d || plist_get_node_type(d) != PLIST_DICT) {
		plist_free(d);
		return -EINVAL;
	}
	n = plist_dict_get_item(d, "HostID");
	if (!n || plist_get_node_type(n) != PLIST_STRING || !(s = plist_get_string_ptr(n, &sl)) ||
	    sl == 0 || sl >= outlen) {
		plist_free(d);
		return -EINVAL;
	}
	memcpy(out, s, sl);
	out[sl] = '\0';
	if (xml)
		plist_to_xml(d, xml, xlen);
	plist_free(d);
	return 0;
}

static void phone_store_record(struct phone *p)
{
	char *tmp;
	int fd;
	ssize_t n;

	tmp = path_join(p->dir, ".devsim-pairrecord.tmp");
	if (!tmp)
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("cannot write '%s': %s (pair record kept in memory only)", tmp,
			strerror(errno));
		free(tmp);
		return;
	}
	n = write(fd, p->record, p->record_len);
	if (close(fd) < 0 || n != (ssize_t)p->record_len || rename(tmp, p->record_path) < 0) {
		log_err("cannot write '%s': %s (pair record kept in memory only)", p->record_path,
			strerror(errno));
		unlink(tmp);
	}
	free(tmp);
}

int phone_get_record(struct phone *p, const char **data, size_t *len)
{
	char uuid[37], wifi[32];

	if (p->trust != TRUST_PAIRED)
		return -ENOENT;
	if (!p->record) {
		pairkeys_uuid(uuid);
		phone_wifi_address(p, wifi, sizeof(wifi));
		if (pairkeys_record(p->ds->keys, uuid, p->ds->buid, wifi, &p->record,
				    &p->record_len) < 0)
			return -ENOMEM;
		snprintf(p->record_host_id, sizeof(p->record_host_id), "%s", uuid);
		phone_store_record(p);
	}
	*data = p->record;
	*len = p->record_len;
	return 0;
}

int phone_save_record(struct phone *p, const char *data, size_t len)
{
	char host_id[64];
	char *xml = NULL;
	uint32_t xlen = 0;
	char *copy;

	if (len > PHONE_RECORD_MAX ||
	    record_host_id(data, len, host_id, sizeof(host_id), &xml, &xlen) < 0)
		return -EINVAL;
	if (!xml)
		return -ENOMEM;
	copy = malloc(xlen);
	if (!copy) {
		plist_to_xml_free(xml);
		return -ENOMEM;
	}
	memcpy(copy, xml, xlen);
	plist_to_xml_free(xml);
	free(p->record);
	p->record = copy;
	p->record_len = xlen;
	memcpy(p->record_host_id, host_id, sizeof(host_id));
	phone_store_record(p);
	return 0;
}

int phone_delete_record(struct phone *p)
{
	free(p->record);
	p->record = NULL;
	p->record_len = 0;
	p->record_host_id[0] = '\0';
	if (unlink(p->record_path) < 0 && errno != ENOENT)
		log_err("cannot remove '%s': %s", p->record_path, strerror(errno));
	return 0;
}

static void phone_load_record(struct phone *p)
{
	size_t len = 0;
	int r = 0;
	char *data = read_file(p->record_path, PHONE_RECORD_MAX, &len, &r);

	if (!data)
		return;
	if (record_host_id(data, len, p->record_host_id, sizeof(p->record_host_id), NULL, NULL) <
	    0) {
		log_err("ignoring invalid pair record '%s'", p->record_path);
		p->record_host_id[0] = '\0';
		free(data);
		return;
	}
	p->record = data;
	p->record_len = len;
}

int phone_add_port(struct phone *p, enum service_kind kind, bool ssl, uint16_t *port)
{
	if (p->next_port < DEVSIM_FIRST_SERVICE_PORT || p->next_port > 65000)
		p->next_port = DEVSIM_FIRST_SERVICE_PORT;
	if (p->nports == DEVSIM_MAX_PORTS) {
		memmove(&p->ports[0], &p->ports[1], sizeof(p->ports[0]) * (DEVSIM_MAX_PORTS - 1));
		p->nports--;
	}
	p->ports[p->nports].port = p->next_port;
	p->ports[p->nports].kind = kind;
	p->ports[p->nports].ssl = ssl;
	p->nports++;
	*port = p->next_port++;
	return 0;
}

enum service_kind phone_take_port(struct phone *p, uint16_t port, bool *ssl)
{
	*ssl = false;
	for (int i = 0; i < p->nports; i++) {
		if (p->ports[i].port == port) {
			enum service_kind k = p->ports[i].kind;

			*ssl = p->ports[i].ssl;
			memmove(&p->ports[i], &p->ports[i + 1],
				sizeof(p->ports[0]) * (size_t)(p->nports - i - 1));
			p->nports--;
			return k;
		}
	}
	return SERVICE_NONE;
}

int phone_attach(struct devsim *ds, const char *dir, char *err, size_t errlen)
{
	struct phone *p = calloc(1, sizeof(*p));
	char *json = NULL;
	struct stat st;
	int r;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->ds = ds;
	p->trust = TRUST_PAIRED;
	p->drop_after = -1;
	p->stall_after = -1;
	p->service_ssl = ds->service_ssl;
	p->dir = strdup(dir);
	json = path_join(dir, "device.json");
	p->crash_dir = path_join(dir, "CrashReporter");
	p->record_path = path_join(dir, PHONE_RECORD_FILE);
	if (!p->dir || !json || !p->crash_dir || !p->record_path) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = -ENOTDIR;
		snprintf(err, errlen, "cannot attach '%s': not a directory", dir);
		goto fail;
	}
	r = phone_parse_json(p, json, err, errlen);
	if (r < 0)
		goto fail;
	if (phone_by_udid(ds, p->udid)) {
		snprintf(err, errlen, "cannot attach '%s': udid '%s' is already attached", dir,
			 p->udid);
		r = -EEXIST;
		goto fail;
	}
	if (mkdir(p->crash_dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", p->crash_dir, strerror(errno));
		goto fail;
	}
	phone_load_record(p);
	free(json);
	p->device_id = ++ds->next_device_id;
	p->prev = ds->phones_tail;
	if (ds->phones_tail)
		ds->phones_tail->next = p;
	else
		ds->phones = p;
	ds->phones_tail = p;
	log_msg("attach %s id %u trust %s%s dir %s", p->udid, p->device_id,
		phone_trust_name(p->trust), p->locked ? " locked" : "", p->dir);
	usbmux_broadcast_attached(ds, p);
	return 0;
fail:
	free(json);
	phone_free(p);
	return r;
}

static void phone_unlink(struct devsim *ds, struct phone *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		ds->phones = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		ds->phones_tail = p->prev;
}

int phone_detach(struct devsim *ds, struct phone *p)
{
	log_msg("detach %s id %u", p->udid, p->device_id);
	usbmux_broadcast_detached(ds, p);
	conn_close_phone(ds, p);
	phone_unlink(ds, p);
	phone_free(p);
	return 0;
}

void phone_free_all(struct devsim *ds)
{
	while (ds->phones) {
		struct phone *p = ds->phones;

		phone_unlink(ds, p);
		phone_free(p);
	}
}
