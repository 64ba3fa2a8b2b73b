/* rng.c: deterministic random numbers (xoshiro256**) and a stable string hash for jetsamgen */
#include "gen.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void gen_rng_init(struct gen_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

uint64_t gen_rng_next(struct gen_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t gen_rng_below(struct gen_rng *r, uint64_t n)
{
	if (n == 0)
		return 0;
	/* the bias of a plain modulo is irrelevant for test data */
	return gen_rng_next(r) % n;
}

int64_t gen_rng_range(struct gen_rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)gen_rng_below(r, (uint64_t)(hi - lo) + 1);
}

bool gen_rng_chance(struct gen_rng *r, unsigned percent)
{
	return gen_rng_below(r, 100) < percent;
}

uint64_t gen_hash(const char *s, uint64_t salt)
{
	/* FNV-1a, then one splitmix round to spread the bits */
	uint64_t h = 0xcbf29ce484222325ULL ^ salt;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return splitmix64(&h);
}
