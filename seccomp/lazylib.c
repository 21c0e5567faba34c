/* SPDX-License-Identifier: Apache-2.0 */
/* libcrypto, libssl and libldns loaded on first use (lazylib.h says why). */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
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

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *pointers[LAZY_ID_COUNT];
static char failure[256];		/* "": loaded */

static void
load(void)
{
	__typeof__(&OPENSSL_init_crypto) init;
	void *handles[LAZY_LIBS];

	for (int lib = 0; lib < LAZY_LIBS; lib++)
		if ((handles[lib] = dlopen(sonames[lib], RTLD_NOW |
		    RTLD_LOCAL)) == NULL) {
			const char *e = dlerror();

			snprintf(failure, sizeof(failure), "cannot load %s: %s",
			    sonames[lib], e != NULL ? e : "unknown error");
			return;
		}
	for (int i = 0; i < LAZY_ID_COUNT; i++)
		if ((pointers[i] = dlsym(handles[functions[i].lib],
		    functions[i].name)) == NULL) {
			snprintf(failure, sizeof(failure), "%s has no %s",
			    sonames[functions[i].lib], functions[i].name);
			return;
		}
	/* Before libssl's first call: zt-exec's exit ends everything, and
	 * OpenSSL's own clean-up at exit must not free what a detached
	 * tunnel thread may still use (the kernel frees it all). */
	init = pointers[LAZY_ID_OPENSSL_init_crypto];
	init(OPENSSL_INIT_NO_ATEXIT, NULL);
}

static const char *
loaded(void)
{
	/* Until load() has run, say so: a failed pthread_once leaves the
	 * pointers unset. */
	if (pthread_once(&once, load) != 0)
		return "cannot run the library loader";
	return failure[0] != '\0' ? failure : NULL;
}

int
lazylib_load(char *error, size_t size)
{
	const char *why = loaded();

	if (why == NULL)
		return 0;
	snprintf(error, size, "%s", why);
	return -1;
}

void *
lazylib_function(enum lazylib_id id)
{
	const char *why = loaded();

	if (why != NULL || (unsigned)id >= LAZY_ID_COUNT ||
	    pointers[id] == NULL) {
		zt_log(LOG_ERR, "zt-exec ends: %s", why != NULL ? why :
		    "no such library function");
		abort();
	}
	return pointers[id];
}
