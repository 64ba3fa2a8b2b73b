/* suggest.c: "did you mean" for jetsamctl: the closest known word to a mistyped one */
#include <ctype.h>
#include <string.h>

#include "suggest.h"

#define SUGGEST_MAX_LEN 64

int suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SUGGEST_MAX_LEN * 2;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) !=
				   tolower((unsigned char)b[j - 1]);
			int v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 &&
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *suggest_word(const char *typed, const char *const *words, size_t n)
{
	const char *best = NULL;
	int best_d = 1000, tie = 0, max = strlen(typed) <= 4 ? 1 : 2;
	size_t i;

	for (i = 0; i < n; i++) {
		int d;

		if (words[i] == NULL)
			continue;
		d = suggest_distance(typed, words[i]);
		if (d < best_d) {
			best_d = d;
			best = words[i];
			tie = 0;
		} else if (d == best_d && best != NULL && strcmp(best, words[i]) != 0) {
			tie = 1;
		}
	}
	return best != NULL && best_d <= max && !tie ? best : NULL;
}
