/* SPDX-License-Identifier: MIT */
/* For tests that check rendered text: how often something appears in it. */
#ifndef UVSCOPE_TEST_TEXT_COUNT_H
#define UVSCOPE_TEST_TEXT_COUNT_H

/* The occurrences of needle in hay (they may overlap). */
int count(const char *hay, const char *needle);

#endif
