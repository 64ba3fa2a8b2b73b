/* trim.h: give freed heap and idle file page mappings back to the system, off the loop */
#ifndef JETSAMD_TRIM_H
#define JETSAMD_TRIM_H

#include <uv.h>

/*
 * Give back the malloc caches of the loop thread and of a pool thread (trim_thread_cache()),
 * then run trim_mappings() and malloc_trim(0), on libuv's thread pool (malloc_trim walks
 * every malloc arena and can take tens of milliseconds after big reports). At most one runs
 * at a time; a call while one is queued or running makes one more run after it. Call it
 * when the daemon goes idle. Loop thread only.
 */
void trim_heap_soon(uv_loop_t *loop);

/*
 * Unmap (madvise MADV_DONTNEED) the resident pages of every private mapping of a file that
 * is not writable and holds no private (copied-on-write) page, as /proc/self/pagemap tells:
 * the code and read-only data of the program and its libraries that start-up, a TLS
 * handshake or a sync touched. The pages stay in the page cache, shared with other
 * processes; the next access maps them again (a minor fault), with the same bytes. A
 * mapping with a copied page (a library's relocated read-only data) is left alone, and so
 * are shared maps (SQLite's map of the store: dropping hundreds of MiB of it while jobs ran
 * stalled the loop in chaos-loop; the store decides about its map). Returns the bytes that
 * were resident in the mappings dropped. Any thread.
 */
size_t trim_mappings(void);

/*
 * Give the calling thread's malloc cache back to the arenas: the small freed chunks glibc
 * keeps per thread (tcache), which malloc_trim() cannot return and which keep their pages
 * resident. For a thread that lives on after a burst of work: every job jetsamd queues on
 * the thread pool ends with it (a pool thread whose last job was a usbmuxd listing kept
 * 2.3 MiB resident at idle in one run of five), and the store thread calls it when idle;
 * trim_heap_soon() does it for the loop thread and for the pool thread it runs on. Takes a
 * thread of its own for a moment (about 0.1 ms). Any thread.
 */
void trim_thread_cache(void);

#endif
