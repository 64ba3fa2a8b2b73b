/* bench-devsim-afc.c: AFC read throughput of one file through libimobiledevice (prints MB/s) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libimobiledevice/afc.h>
#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	idevice_t dev = NULL;
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	afc_client_t afc = NULL;
	uint64_t handle = 0, total = 0;
	uint32_t chunk, n = 0;
	char *buf;
	double t0, t1;
	int rounds, status = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: bench-devsim-afc UDID AFC_PATH CHUNK_BYTES ROUNDS\n");
		return 2;
	}
	chunk = (uint32_t)strtoul(argv[3], NULL, 10);
	rounds = atoi(argv[4]);
	buf = malloc(chunk ? chunk : 1);
	if (!buf || chunk == 0 || rounds < 1)
		return 2;
	if (idevice_new(&dev, argv[1]) != IDEVICE_E_SUCCESS) {
		fprintf(stderr, "bench-devsim-afc: no device '%s'\n", argv[1]);
		goto out;
	}
	if (lockdownd_client_new_with_handshake(dev, &ld, "bench-devsim-afc") !=
		    LOCKDOWN_E_SUCCESS ||
	    lockdownd_start_service(ld, "com.apple.crashreportcopymobile", &svc) !=
		    LOCKDOWN_E_SUCCESS) {
		fprintf(stderr, "bench-devsim-afc: cannot start com.apple.crashreportcopymobile\n");
		goto out;
	}
	if (afc_client_new(dev, svc, &afc) != AFC_E_SUCCESS) {
		fprintf(stderr, "bench-devsim-afc: cannot connect to afc\n");
		goto out;
	}
	t0 = now();
	for (int r = 0; r < rounds; r++) {
		if (afc_file_open(afc, argv[2], AFC_FOPEN_RDONLY, &handle) != AFC_E_SUCCESS) {
			fprintf(stderr, "bench-devsim-afc: cannot open '%s'\n", argv[2]);
			goto out;
		}
		for (;;) {
			if (afc_file_read(afc, handle, buf, chunk, &n) != AFC_E_SUCCESS) {
				fprintf(stderr, "bench-devsim-afc: read failed\n");
				goto out;
			}
			if (n == 0)
				break;
			total += n;
		}
		afc_file_close(afc, handle);
	}
	t1 = now();
	printf("afc read: %llu bytes in %.3f s = %.1f MB/s (%u-byte reads, %d rounds)\n",
	       (unsigned long long)total, t1 - t0, total / (t1 - t0) / 1e6, chunk, rounds);
	status = 0;
out:
	afc_client_free(afc);
	lockdownd_service_descriptor_free(svc);
	lockdownd_client_free(ld);
	idevice_free(dev);
	free(buf);
	return status;
}
