/* SPDX-License-Identifier: Apache-2.0 */
/* The environment variables that make a program run other code. */
#include "config.h"

#include <string.h>

#include "zt_envcheck.h"

/*
 * Whole names.  The rule: a variable is listed when its value names code
 * (shared objects, modules, startup or library scripts), is an option
 * string an interpreter obeys, or is a command line a tool runs.  Values
 * that steer data only (NLSPATH, LOCPATH, TMPDIR, TZDIR, HOSTALIASES,
 * LOCALDOMAIN, RES_OPTIONS, which zt-exec itself sets for the resolver)
 * are not.  Keep man/zt-exec.1 (ENVIRONMENT) in step.
 */
static const char *const dangerous[] = {
	/* the C library and the dynamic loader (LD_* below) */
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES",
	/* shells */
	"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS0", "PS1", "PS2",
	"PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "ZDOTDIR",
	/* interpreters and runtimes (PYTHON*, PERL*, RUBY*, NODE_*, LUA_*
	 * below) */
	"GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE",
	"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
	"JAVA_OPTS", "CLASSPATH",
	"TCLLIBPATH", "TCL_LIBRARY", "PHPRC", "PHP_INI_SCAN_DIR",
	"DOTNET_STARTUP_HOOKS", "CORECLR_PROFILER_PATH",
	/* tools that run a command line or load modules they are given */
	"GIT_SSH_COMMAND", "GIT_SSH", "GIT_EXEC_PATH", "GIT_CONFIG",
	"GIT_ASKPASS", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "GIT_PAGER",
	"GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_TEMPLATE_DIR",
	"SSH_ASKPASS", "SUDO_ASKPASS", "EDITOR", "VISUAL", "PAGER",
	"MANPAGER", "LESSOPEN", "LESSCLOSE", "BROWSER",
	"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES",
	NULL,
};

/* Prefixes: every variable that starts with one. */
static const char *const dangerous_prefixes[] = {
	"LD_", "MALLOC_", "BASH_FUNC_", "PYTHON", "PERL", "RUBY", "NODE_",
	"LUA_", "GIT_CONFIG_", "NPM_CONFIG_", "npm_config_",
	NULL,
};

static const char *const base[] = {
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TZ",
	NULL,
};

static bool
equal(const char *word, const char *name, size_t len)
{
	return strlen(word) == len && memcmp(word, name, len) == 0;
}

static bool
starts(const char *prefix, const char *name, size_t len)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(prefix, name, n) == 0;
}

static bool
in(const char *const *list, const char *name, size_t len, bool prefixes)
{
	for (; *list != NULL; list++)
		if (prefixes ? starts(*list, name, len) :
		    equal(*list, name, len))
			return true;
	return false;
}

bool
zt_env_is_dangerous(const char *name, size_t len)
{
	return in(dangerous, name, len, false) ||
	    in(dangerous_prefixes, name, len, true);
}

bool
zt_env_is_base(const char *name, size_t len)
{
	return in(base, name, len, false) || starts("LC_", name, len);
}

bool
zt_env_pattern_valid(const char *pattern)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		n--;
	if (n == 0 || n > ZT_ENV_NAME_MAX - 1 ||
	    !((pattern[0] >= 'A' && pattern[0] <= 'Z') ||
	    (pattern[0] >= 'a' && pattern[0] <= 'z') || pattern[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((pattern[i] >= 'A' && pattern[i] <= 'Z') ||
		    (pattern[i] >= 'a' && pattern[i] <= 'z') ||
		    (pattern[i] >= '0' && pattern[i] <= '9') ||
		    pattern[i] == '_'))
			return false;
	return true;
}

bool
zt_env_named(const char *const *patterns, size_t n, const char *name,
    size_t len)
{
	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(patterns[i]);

		if (plen > 0 && patterns[i][plen - 1] == '*' ?
		    len >= plen - 1 && memcmp(patterns[i], name,
		    plen - 1) == 0 : equal(patterns[i], name, len))
			return true;
	}
	return false;
}

const char *
zt_env_find_refused(const char *blob, size_t len,
    const char *const *patterns, size_t n, size_t *name_len)
{
	const char *p = blob, *end = blob + len;

	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t entry = nul != NULL ? (size_t)(nul - p) :
		    (size_t)(end - p);
		const char *eq = memchr(p, '=', entry);
		size_t name = eq != NULL ? (size_t)(eq - p) : entry;

		if (zt_env_is_dangerous(p, name) &&
		    !zt_env_named(patterns, n, p, name)) {
			*name_len = name;
			return p;
		}
		p += entry + 1;
	}
	return NULL;
}
