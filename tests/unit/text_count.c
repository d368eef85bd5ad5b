// SPDX-License-Identifier: MIT
#include <string.h>

#include "text_count.h"

int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}
