/* suggest.h: "did you mean" for jetsamctl: the closest known word to a mistyped one */
#ifndef JETSAMCTL_SUGGEST_H
#define JETSAMCTL_SUGGEST_H

#include <stddef.h>

/* Optimal string alignment distance (edits, with adjacent transpositions) of a and b,
 * ASCII case-insensitive; large strings give a large number */
int suggest_distance(const char *a, const char *b);

/*
 * The word of words[0..n) (NULL entries are skipped) closest to typed, when it is close
 * enough (at most 1 edit for words up to 4 characters, 2 beyond) and no other word is as close;
 * else NULL.
 */
const char *suggest_word(const char *typed, const char *const *words, size_t n);

#endif
