/* SPDX-License-Identifier: Apache-2.0 */
/* libcrypto, libssl and libldns loaded on first use (lazylib.h says why). */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lazylib.h"
#include "zt_log.h"

/* The sonames zt-exec was built against (Debian 12: OpenSSL 3, ldns
 * 1.8), libcrypto first.  zt-exec is setgid: the loader searches only the system's
 * directories for them. */
enum { LAZY_CRYPTO, LAZY_SSL, LAZY_LDNS, LAZY_LIBS };
static const char *const sonames[LAZY_LIBS] = { "libcrypto.so.3",
	"libssl.so.3", "libldns.so.3" };

static const struct {
	int lib;
	const char *name;
} functions[LAZY_ID_COUNT] = {
#define LAZYLIB_ENTRY(lib, name) { lib, #name },
	LAZYLIB_FUNCTIONS(LAZYLIB_ENTRY)
#undef LAZYLIB_ENTRY
};

/* libcrypto alone first (the tunnel's key pair and request need no
 * more), then the others: each step once, with its own failure ("":
 * loaded), so that a reader of the first never races the second's
 * writer. */
static pthread_once_t once_crypto = PTHREAD_ONCE_INIT;
static pthread_once_t once_rest = PTHREAD_ONCE_INIT;
static void *handles[LAZY_LIBS];
static void *pointers[LAZY_ID_COUNT];
static char failure_crypto[256], failure_rest[256];

/* Libraries FIRST to LAST - 1 and their functions, or why not into
 * FAILURE (256 bytes). */
static void
load_libs(int first, int last, char *failure)
{
	for (int lib = first; lib < last; lib++)
		if ((handles[lib] = dlopen(sonames[lib], RTLD_NOW |
		    RTLD_LOCAL)) == NULL) {
			const char *e = dlerror();

			snprintf(failure, 256, "cannot load %s: %s",
			    sonames[lib], e != NULL ? e : "unknown error");
			return;
		}
	for (int i = 0; i < LAZY_ID_COUNT; i++)
		if (functions[i].lib >= first && functions[i].lib < last &&
		    (pointers[i] = dlsym(handles[functions[i].lib],
		    functions[i].name)) == NULL) {
			snprintf(failure, 256, "%s has no %s",
			    sonames[functions[i].lib], functions[i].name);
			return;
		}
}

static void
load_crypto(void)
{
	__typeof__(&OPENSSL_init_crypto) init;

	load_libs(LAZY_CRYPTO, LAZY_CRYPTO + 1, failure_crypto);
	if (failure_crypto[0] != '\0')
		return;
	/* Before libssl's first call: zt-exec's exit ends everything, and
	 * OpenSSL's own clean-up at exit must not free what a detached
	 * tunnel thread may still use (the kernel frees it all). */
	init = pointers[LAZY_ID_OPENSSL_init_crypto];
	init(OPENSSL_INIT_NO_ATEXIT, NULL);
}

static void
load_rest(void)
{
	load_libs(LAZY_CRYPTO + 1, LAZY_LIBS, failure_rest);
}

/* NULL once libcrypto (ALL: and the others) is loaded, else why.  Until
 * a step has run, it says so: a failed pthread_once leaves the pointers
 * unset. */
static const char *
loaded(bool all)
{
	if (pthread_once(&once_crypto, load_crypto) != 0)
		return "cannot run the library loader";
	if (failure_crypto[0] != '\0')
		return failure_crypto;
	if (!all)
		return NULL;
	if (pthread_once(&once_rest, load_rest) != 0)
		return "cannot run the library loader";
	return failure_rest[0] != '\0' ? failure_rest : NULL;
}

static int
load_or_say(bool all, char *error, size_t size)
{
	const char *why = loaded(all);

	if (why == NULL)
		return 0;
	snprintf(error, size, "%s", why);
	return -1;
}

int
lazylib_load(char *error, size_t size)
{
	return load_or_say(true, error, size);
}

int
lazylib_load_crypto(char *error, size_t size)
{
	return load_or_say(false, error, size);
}

void *
lazylib_function(enum lazylib_id id)
{
	const char *why = (unsigned)id < LAZY_ID_COUNT ?
	    loaded(functions[id].lib != LAZY_CRYPTO) : NULL;

	if (why != NULL || (unsigned)id >= LAZY_ID_COUNT ||
	    pointers[id] == NULL) {
		zt_log(LOG_ERR, "zt-exec ends: %s", why != NULL ? why :
		    "no such library function");
		abort();
	}
	return pointers[id];
}
