/* SPDX-License-Identifier: Apache-2.0 */
/* What an approved interpreter loads from where it runs: Python's rules. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/*
 * Python interpreters: a command whose path (or the file it resolves to)
 * is named python, pythonN or pythonN.M.  Python puts a directory first on
 * sys.path before it imports anything: the working directory for -m, -c,
 * "-" and a program read from standard input, the script's directory for a
 * script (Python 3.11 sys.path, PyConfig.safe_path).  The agent picks its
 * working directory and can write there: the modules it puts there run
 * inside the approved command.  -I (isolated: implies -E -P -s) and -P
 * (3.11) leave that directory out; -E and -s do not.
 */
static bool
python_name(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b != NULL ? b + 1 : path;
	if (strncmp(b, "python", 6) != 0)
		return false;
	b += 6;
	if (*b == '\0')
		return true;
	if (!isdigit((unsigned char)*b))
		return false;
	while (isdigit((unsigned char)*b))
		b++;
	if (*b == '\0')
		return true;
	if (*b++ != '.' || !isdigit((unsigned char)*b))
		return false;
	while (isdigit((unsigned char)*b))
		b++;
	return *b == '\0';
}

bool
interp_is_python(const char *path)
{
	char *real;
	bool yes = python_name(path);

	/* /usr/bin/py -> python3.11: the name the kernel runs.  A path
	 * absent here (a fleet policy for other hosts) goes by its name. */
	if (!yes && (real = realpath(path, NULL)) != NULL) {
		yes = python_name(real);
		free(real);
	}
	return yes;
}

/* Python's short options without an argument (3.11, python3 -h). */
#define PYTHON_FLAGS "bBdEiOqsSuvx"

/*
 * Does alternative A let Python put a directory the agent picks first on
 * sys.path?  NULL when not, else why.  Python reads its options up to -c,
 * -m, "-" or the script: an -I or -P among them (a literal pattern) makes
 * the alternative safe; a pattern that may match -c or -m before one does
 * not.  A script (a word not starting with '-') puts its own directory
 * first: that is the script's path, checked at the exec (zt-exec refuses
 * a script the account can replace).
 */
const char *
interp_python_unsafe(const struct args_alternative *a)
{
	for (size_t i = 0; i < a->n_patterns; i++) {
		const char *s = a->patterns[i];

		if (strpbrk(s, "*?[\\") != NULL)
			return s[0] == '-' || strchr("*?[\\", s[0]) != NULL ?
			    "a pattern that matches -c or -m comes before -I" :
			    NULL;
		if (s[0] != '-')
			return NULL;		/* the script */
		if (strcmp(s, "-") == 0)
			return "\"-\" reads the program from standard input";
		if (strcmp(s, "--") == 0)
			return i + 1 < a->n_patterns ? NULL :
			    "\"--\" without a script reads standard input";
		if (strcmp(s, "--version") == 0 || strcmp(s, "--help") == 0)
			return NULL;		/* prints and exits */
		if (s[1] == '-')
			return "a long option comes before -I";
		for (const char *c = s + 1; *c != '\0'; c++) {
			if (*c == 'I' || *c == 'P' || *c == 'V' || *c == 'h')
				return NULL;	/* isolated, or exits */
			if (*c == 'c' || *c == 'm')
				return *c == 'c' ? "-c comes before -I" :
				    "-m comes before -I";
			if (*c == 'W' || *c == 'X') {
				if (c[1] == '\0')
					i++;	/* its argument */
				break;
			}
			if (strchr(PYTHON_FLAGS, *c) == NULL)
				return "an option ztd does not know comes "
				    "before -I";
		}
	}
	return a->rest ? "\"**\" matches -c or -m" :
	    "without a script it reads the program from standard input";
}
