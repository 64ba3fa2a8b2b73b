/* report_depth.c: the nesting pre-scan run before cJSON (SSE2 blocks, byte-wise fallback) */
#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "report_internal.h"

/* Nesting scan state: depth is opens minus closes (a close too many makes cJSON stop there,
 * before any deeper part, so it needs no clamping). */
struct depth_scan {
	int depth, max;
	int in_str, esc;
};

/* Scan s[from, to) byte by byte: the offset of the first bracket too deep, or -1. */
static int64_t depth_scalar(const unsigned char *s, size_t from, size_t to, struct depth_scan *st)
{
	for (size_t i = from; i < to; i++) {
		unsigned char c = s[i];

		if (st->in_str) {
			if (st->esc)
				st->esc = 0;
			else if (c == '\\')
				st->esc = 1;
			else if (c == '"')
				st->in_str = 0;
			continue;
		}
		if (c == '"') {
			st->in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++st->depth > st->max)
				return (int64_t)i;
		} else if (c == '}' || c == ']') {
			st->depth--;
		}
	}
	return -1;
}

#if defined(__SSE2__)
static uint64_t mask64(const __m128i v[4], char c)
{
	const __m128i k = _mm_set1_epi8(c);
	uint64_t m = 0;

	for (int i = 0; i < 4; i++)
		m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v[i], k)) << (16 * i);
	return m;
}
#endif

/* Scan [p, p+n) for nesting beyond max: the offset of the first bracket too deep, or -1.
 * *open is 2 when the text ends inside a string, 1 inside an unclosed bracket, else 0.
 * 64-byte blocks without a backslash are classified with SSE2 masks (strings found by a
 * prefix XOR of the quote bits); the others go byte by byte. */
int64_t report_depth_exceeded(const char *p, size_t n, int max, int *open)
{
	const unsigned char *s = (const unsigned char *)p;
	struct depth_scan st = {.max = max};
	size_t i = 0;
	int64_t at;

#if defined(__SSE2__)
	for (; i + 64 <= n; i += 64) {
		__m128i v[4], w[4];
		uint64_t q, x, ob, cb;

		__m128i any_bs = _mm_setzero_si128(), any_br = _mm_setzero_si128();

		for (int k = 0; k < 4; k++) {
			v[k] = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16 * k));
			any_bs = _mm_or_si128(any_bs, _mm_cmpeq_epi8(v[k], _mm_set1_epi8('\\')));
			w[k] = _mm_or_si128(v[k], _mm_set1_epi8(0x20)); /* '[' -> '{', ']' -> '}' */
			any_br = _mm_or_si128(any_br, _mm_cmpeq_epi8(w[k], _mm_set1_epi8('{')));
			any_br = _mm_or_si128(any_br, _mm_cmpeq_epi8(w[k], _mm_set1_epi8('}')));
		}
		if (st.esc || _mm_movemask_epi8(any_bs) != 0) {
			if ((at = depth_scalar(s, i, i + 64, &st)) >= 0)
				return at;
			continue;
		}
		q = mask64(v, '"');
		if (_mm_movemask_epi8(any_br) == 0) {
			st.in_str ^= __builtin_parityll(q); /* no bracket: only the string state */
			continue;
		}
		x = q ^ (q << 1);
		x ^= x << 2;
		x ^= x << 4;
		x ^= x << 8;
		x ^= x << 16;
		x ^= x << 32; /* bit i: odd number of quotes at or before i */
		if (st.in_str)
			x = ~x;
		st.in_str = (int)(x >> 63);
		ob = mask64(w, '{') & ~x;
		cb = mask64(w, '}') & ~x;
		for (uint64_t all = ob | cb; all != 0; all &= all - 1) { /* a few per block */
			int bit = __builtin_ctzll(all);

			if (ob >> bit & 1) {
				if (++st.depth > max)
					return (int64_t)(i + (size_t)bit);
			} else {
				st.depth--;
			}
		}
	}
#endif
	if ((at = depth_scalar(s, i, n, &st)) >= 0)
		return at;
	*open = st.in_str ? 2 : st.depth > 0;
	return -1;
}
