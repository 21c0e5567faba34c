/* SPDX-License-Identifier: Apache-2.0 */
/* ztd: options, start-up, the event loop, signals and reload. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attest_agent.h"
#include "audit.h"
#include "ca.h"
#include "cache.h"
#include "decide.h"
#include "disable.h"
#include "fleet.h"
#include "fleet_client.h"
#include "grant.h"
#include "launchfilter.h"
#include "server.h"
#include "systemd.h"
#include "token.h"
#include "zt_clock.h"
#include "zt_err.h"
#include "zt_kernel.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

/* Exit codes of INTERFACES.md. */
#define EXIT_CONFIG 1
#define EXIT_STARTUP 2

static const char *arg_config = ZT_DEFAULT_CONFIG;
static const char *arg_socket;
static const char *arg_syslog_socket = "/dev/log";
static bool arg_foreground;
static bool arg_check_config;

int64_t
ztd_now_ms(void)
{
	return zt_boottime_ms();
}

/* --check-config: a warning of config_warnings, on stderr. */
static void
print_warning(const char *text, void *arg)
{
	(void)arg;
	fprintf(stderr, "warning: %s\n", text);
}

/* At start and at each reload: the same warnings, in ztd's log. */
static void
log_warning(const char *text, void *arg)
{
	(void)arg;
	zt_log(LOG_WARNING, "warning: %s", text);
}

void
ztd_apply_config(struct ztd *ztd, struct ztd_config *fresh, const char *what)
{
	if (strcmp(fresh->socket, ztd->config->socket) != 0 && arg_socket == NULL)
		zt_log(LOG_WARNING, "socket changed to %s: takes effect at the "
		    "next start", fresh->socket);
	config_free(ztd->config);
	ztd->config = fresh;
	ztd->generation++;
	ztd->reload_error[0] = '\0';
	/* Every cached decision was made under the old policy. */
	cache_invalidate(ztd->cache);
	server_push_event(ztd, -1, ZT_EVENT_INVALIDATE, NULL,
	    "policy reloaded");
	grant_end_unknown_agents(ztd, "agent removed from the policy");
	/* What was answered before lives no longer than the new bound. */
	grant_clamp_learned(ztd, ztd_now_ms() +
	    (int64_t)fresh->dns.max_ttl * 1000);
	attest_reconfigure(ztd->attest, fresh);
	/* host= is the fleet's name for this host, or follows a renamed
	 * host. */
	audit_set_host(ztd->audit, config_host_name(fresh));
	zt_log(LOG_NOTICE, "configuration %s loaded%s%s: generation %llu, "
	    "%zu agents", ztd->config_path, what != NULL ? " with " : "",
	    what != NULL ? what : "", (unsigned long long)ztd->generation,
	    fresh->n_agents);
	config_warnings(fresh, log_warning, NULL);
	systemd_notify("READY=1\nSTATUS=serving: generation %llu, %zu agents",
	    (unsigned long long)ztd->generation, fresh->n_agents);
}

int
ztd_reload(struct ztd *ztd)
{
	struct ztd_config *fresh;
	struct timespec now;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &now);
	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)now.tv_sec * 1000000ull +
	    (unsigned long long)now.tv_nsec / 1000ull);
	/* The fleet's policy, when one is in force, stays in force. */
	r = config_load_with_policy(ztd->config_path,
	    fleet_policy_name(ztd->fleet), fleet_policy_text(ztd->fleet),
	    &fresh, ztd->reload_error);
	if (r < 0) {
		zt_log(LOG_ERR, "reload failed, keeping generation %llu: %s",
		    (unsigned long long)ztd->generation, ztd->reload_error);
		/* Serving on the old policy: ready as before. */
		systemd_notify("READY=1\nSTATUS=reload failed, serving "
		    "generation %llu: %s", (unsigned long long)ztd->generation,
		    ztd->reload_error);
		return r;
	}
	ztd_apply_config(ztd, fresh, fleet_policy_name(ztd->fleet));
	fleet_reconfigure(ztd);
	return 0;
}

static void
usage(FILE *to)
{
	fprintf(to,
	    "usage: ztd [--config FILE] [--socket PATH] [--foreground]\n"
	    "           [--syslog-socket PATH] [--check-config] [--version]\n"
	    "\n"
	    "  --config FILE         configuration (default %s)\n"
	    "  --socket PATH         listen here instead of the configured socket\n"
	    "  --foreground          do not detach; also log to stderr\n"
	    "  --syslog-socket PATH  send log and audit lines here (default /dev/log)\n"
	    "  --check-config        validate the configuration, print ok or the error\n"
	    "  --version             print the version\n",
	    ZT_DEFAULT_CONFIG);
}

/*
 * Every kernel feature ztd relies on, or a refusal naming the missing
 * ones and the Linux version that has each (logged, and on stderr).
 * Returns 0 or -1.
 */
static int
check_kernel(void)
{
	struct zt_kernel k;
	char missing[512], why[768];

	zt_kernel_probe(&k, ZT_KERNEL_ZTD_NEEDS);
	if (zt_kernel_missing(&k, ZT_KERNEL_ZTD_NEEDS, missing,
	    sizeof(missing)) == 0)
		return 0;
	if (k.under_valgrind) {
		zt_log(LOG_WARNING, "under valgrind, which lacks %s: not "
		    "refusing to start (requests that need them are denied)",
		    missing);
		return 0;
	}
	snprintf(why, sizeof(why), "this kernel (%s) lacks what ztd needs to "
	    "tell who is asking and to end agents' processes: %s; "
	    ZT_KERNEL_ADVICE, k.release, missing);
	zt_log(LOG_ERR, "%s", why);
	if (!arg_foreground)
		fprintf(stderr, "ztd: %s\n", why);
	return -1;
}

/* Returns -1 to go on, or an exit status. */
static int
parse_options(int argc, char **argv)
{
	enum { OPT_SYSLOG = 0x100, OPT_CHECK, OPT_VERSION };
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "syslog-socket", required_argument, NULL, OPT_SYSLOG },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:s:fh", options, NULL)) != -1) {
		switch (opt) {
		case 'c': arg_config = optarg; break;
		case 's': arg_socket = optarg; break;
		case 'f': arg_foreground = true; break;
		case OPT_SYSLOG: arg_syslog_socket = optarg; break;
		case OPT_CHECK: arg_check_config = true; break;
		case OPT_VERSION:
			printf("ztd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_STARTUP;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ztd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_STARTUP;
	}
	return -1;
}

/*
 * Detach: the parent waits until the child is serving (or has failed) and
 * exits with the child's start-up status, so `ztd && ztctl status` works.
 * Returns the write end of the readiness pipe in the child, -1 on error.
 */
static int
detach(void)
{
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		unsigned char status = EXIT_STARTUP;

		close(pipefd[1]);
		while (read(pipefd[0], &status, 1) < 0 && errno == EINTR)
			;
		_exit(status);
	}
	close(pipefd[0]);
	setsid();
	if (chdir("/") < 0)
		return -1;
	return pipefd[1];
}

static void
report_ready(int *ready_fd, unsigned char status)
{
	if (*ready_fd < 0)
		return;
	if (status == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	while (write(*ready_fd, &status, 1) < 0 && errno == EINTR)
		;
	close(*ready_fd);
	*ready_fd = -1;
}

static int
open_signals(int epoll_fd, struct watch *watch)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = watch };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void
handle_signals(struct ztd *ztd, int signal_fd)
{
	struct signalfd_siginfo info;

	while (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
		switch (info.ssi_signo) {
		case SIGHUP:
			zt_log(LOG_NOTICE, "SIGHUP from pid %u: reloading",
			    info.ssi_pid);
			ztd_reload(ztd);
			break;
		case SIGTERM:
		case SIGINT:
			zt_log(LOG_NOTICE, "signal %u from pid %u: stopping",
			    info.ssi_signo, info.ssi_pid);
			ztd->stopping = true;
			break;
		}
	}
}

static int
run(struct ztd *ztd, int signal_fd)
{
	/* Group commit: the answers of one pass wait for its records. */
	server_hold(ztd);
	while (!ztd->stopping) {
		struct epoll_event events[SERVER_EVENTS_MAX];
		int timeout = server_expire(ztd), n;
		/* O(1) when nothing is due: the soonest expiry only. */
		int left = grant_expire(ztd);
		int fleet = fleet_tick(ztd);

		if (left >= 0) {
			left = left < INT32_MAX ? left + 1 : left;
			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		if (fleet >= 0 && (timeout < 0 || fleet < timeout))
			timeout = fleet;
		/* Held denies are written once their grant's bucket has
		 * a token again. */
		left = decide_flush_held(ztd);
		if (left >= 0 && (timeout < 0 || left < timeout))
			timeout = left;

		/* Whatever expiring answered goes before the wait. */
		server_flush(ztd);
		n = epoll_wait(ztd->server.epoll_fd, events, SERVER_EVENTS_MAX,
		    timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			zt_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
			return EXIT_STARTUP;
		}
		server_check_connectors(ztd, events, n);
		for (int i = 0; i < n; i++) {
			struct watch *w = events[i].data.ptr;

			/* Ended earlier in this batch: its event is stale. */
			if (w->dead)
				continue;
			switch (w->kind) {
			case WATCH_LISTEN:
				server_accept(ztd);
				break;
			case WATCH_SIGNAL:
				handle_signals(ztd, signal_fd);
				break;
			case WATCH_ATTEST:
				/* A measurement is in: a change of trust drops
				 * every cached allow, here and in supervisors. */
				if (attest_collect(ztd->attest)) {
					cache_invalidate(ztd->cache);
					server_push_event(ztd, -1,
					    ZT_EVENT_INVALIDATE, NULL,
					    "host attestation changed");
				}
				server_attestation_ready(ztd);
				break;
			case WATCH_GRANT:
				/* Its supervisor exited: the grant ends, and
				 * an agent zt-exec launched dies with it --
				 * after what it sent before it exited. */
				server_drain_pid(ztd,
				    ((struct grant *)w)->supervisor_pid);
				if (w->dead)
					break;
				grant_end(ztd, (struct grant *)w,
				    "supervisor exited",
				    ((struct grant *)w)->agent_sid > 0);
				break;
			case WATCH_FLEET:
				fleet_ready(ztd);
				break;
			case WATCH_CLIENT:
				server_client_ready(ztd,
				    (struct client *)w, events[i].events);
				break;
			}
		}
		server_flush(ztd);
		server_free_buried(&ztd->server);
	}
	server_flush(ztd);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct watch signal_watch = { .kind = WATCH_SIGNAL };
	static struct watch attest_watch = { .kind = WATCH_ATTEST };
	char error[CONFIG_ERROR_MAX];
	struct ztd ztd = { 0 };
	char *socket_path;
	int r, signal_fd, ready_fd = -1, listen_fd = -1, status;

	/* ztd's own fleet client, execed unprivileged by fleet.c. */
	if (argc == 4 && strcmp(argv[1], FLEET_CLIENT_ARG) == 0)
		return fleet_client_main(FLEET_CLIENT_FD, argv[2], argv[3]);
	if ((r = parse_options(argc, argv)) >= 0)
		return r;
	umask(022);
	signal(SIGPIPE, SIG_IGN);
	/* A full audit file must be a deny (audit.require), not our death. */
	signal(SIGXFSZ, SIG_IGN);

	r = config_load(arg_config, &ztd.config, error);
	if (arg_check_config) {
		if (r < 0) {
			fprintf(stderr, "%s\n", error);
			return EXIT_CONFIG;
		}
		config_warnings(ztd.config, print_warning, NULL);
		printf("ok\n");
		config_free(ztd.config);
		return 0;
	}
	if ((r = zt_log_open_syslog("ztd", arg_syslog_socket, LOG_DAEMON,
	    arg_foreground)) < 0) {
		fprintf(stderr, "ztd: syslog socket %s: %s\n",
		    arg_syslog_socket, zt_strerror(r));
		return EXIT_STARTUP;
	}
	if (ztd.config == NULL) {
		zt_log(LOG_ERR, "%s", error);
		if (!arg_foreground)
			fprintf(stderr, "ztd: %s\n", error);
		return EXIT_CONFIG;
	}
	if (check_kernel() < 0) {
		config_free(ztd.config);
		zt_log_close();
		return EXIT_STARTUP;
	}
	/* Reload after detaching (cwd "/") must find the same file. */
	ztd.config_path = realpath(arg_config, NULL);
	if (ztd.config_path == NULL) {
		zt_log(LOG_ERR, "%s: %s", arg_config, strerror(errno));
		status = EXIT_CONFIG;
		goto free_config;
	}
	ztd.generation = 1;
	ztd.started_ms = ztd_now_ms();
	/* A copy: a reload frees the configuration it came from. */
	socket_path = strdup(arg_socket != NULL ? arg_socket :
	    ztd.config->socket);
	if (socket_path == NULL) {
		zt_log(LOG_ERR, "out of memory");
		status = EXIT_STARTUP;
		goto free_config;
	}

	status = EXIT_STARTUP;
	if (mkdir(ztd.config->state_dir, 0700) < 0 && errno != EEXIST) {
		zt_log(LOG_ERR, "state directory %s: %s",
		    ztd.config->state_dir, strerror(errno));
		goto free_socket_path;
	}
	if (disabled_open(ztd.config->state_dir, &ztd.disabled, error,
	    sizeof(error)) < 0) {
		zt_log(LOG_ERR, "disabled agents: %s", error);
		if (!arg_foreground)
			fprintf(stderr, "ztd: disabled agents: %s\n", error);
		goto free_socket_path;
	}
	snprintf(error, sizeof(error), "%s/audit.head", ztd.config->state_dir);
	{
		char head[CONFIG_ERROR_MAX];

		memcpy(head, error, sizeof(head));
		if (audit_open(ztd.config->audit_file, head,
		    ztd.config->audit_require, &ztd.audit, error,
		    sizeof(error)) < 0) {
			zt_log(LOG_ERR, "audit: %s", error);
			if (!arg_foreground)
				fprintf(stderr, "ztd: audit: %s\n", error);
			goto free_socket_path;
		}
	}
	{
		char why[FLEET_ERROR_MAX];

		/* Before anything reads the policy: a cached fleet policy
		 * replaces the file's agents. */
		if (fleet_new(&ztd, why, sizeof(why)) < 0) {
			zt_log(LOG_ERR, "%s", why);
			if (!arg_foreground)
				fprintf(stderr, "ztd: %s\n", why);
			goto free_socket_path;
		}
		/* Records name the host as the fleet knows it. */
		audit_set_host(ztd.audit, config_host_name(ztd.config));
	}
	{
		char why[CA_ERROR_MAX];

		if (ca_open(ztd.config->state_dir, ztd.config->trust_domain,
		    &ztd.ca, why) < 0) {
			zt_log(LOG_ERR, "%s", why);
			if (!arg_foreground)
				fprintf(stderr, "ztd: %s\n", why);
			goto free_socket_path;
		}
	}
	ztd.cache = cache_new(ztd.config->cache_max_entries, ztd_now_ms);
	ztd.identity = identity_new(1024);
	ztd.launchfilters = launchfilters_new();
	if (grantset_init(&ztd.grants) < 0 ||
	    grantset_init(&ztd.ended) < 0 || ztd.cache == NULL ||
	    ztd.identity == NULL || ztd.launchfilters == NULL ||
	    token_new(&ztd.token) < 0) {
		zt_log(LOG_ERR, "out of memory");
		goto free_socket_path;
	}
	/* glibc (2.36) allocates its NSS state at the first lookup and
	 * dereferences NULL when that fails: the first getpwuid_r of a
	 * request under memory pressure would crash ztd.  Done here, where
	 * a failure is only a start-up error. */
	{
		struct passwd pw, *found;
		char buf[1024];

		getpwuid_r(0, &pw, buf, sizeof(buf), &found);
	}
	/* Before detaching: LISTEN_PID names this process. */
	if ((r = systemd_listen_fd(socket_path, &listen_fd, error,
	    sizeof(error))) < 0) {
		zt_log(LOG_ERR, "%s", error);
		if (!arg_foreground)
			fprintf(stderr, "ztd: %s\n", error);
		goto free_socket_path;
	}
	if (!arg_foreground && (ready_fd = detach()) < 0) {
		fprintf(stderr, "ztd: cannot detach: %s\n", strerror(errno));
		if (listen_fd >= 0)
			close(listen_fd);
		goto free_socket_path;
	}
	/* Before any thread: the relay is a fork of this process.  Every
	 * line is still handed to the kernel (the relay's pipe) before the
	 * answer it belongs to leaves; the relay wakes the syslog receiver
	 * once per batch, not once per decision. */
	if (ztd.config->audit_relay &&
	    (r = zt_log_relay_start(ztd.config->audit_require)) < 0)
		zt_log(LOG_WARNING, "no log relay (%s): lines go to the "
		    "syslog socket directly", strerror(-r));
	if ((r = listen_fd >= 0 ?
	    server_adopt(&ztd.server, socket_path, listen_fd,
	    ztd.config->max_clients, error, sizeof(error)) :
	    server_open(&ztd.server, socket_path,
	    ztd.config->max_clients, error, sizeof(error))) < 0) {
		zt_log(LOG_ERR, "cannot listen: %s", error);
		if (ready_fd >= 0)
			fprintf(stderr, "ztd: cannot listen: %s\n", error);
		goto report;
	}
	if ((signal_fd = open_signals(ztd.server.epoll_fd,
	    &signal_watch)) < 0) {
		zt_log(LOG_ERR, "signalfd: %s", zt_strerror(signal_fd));
		goto close_server;
	}
	/* After detaching: the worker thread must live in the daemon. */
	{
		char why[ATTEST_REASON_MAX];
		struct epoll_event ev = { .events = EPOLLIN,
		    .data.ptr = &attest_watch };

		why[0] = '\0';
		if (attest_new(ztd.config, &ztd.attest, why) < 0 ||
		    epoll_ctl(ztd.server.epoll_fd, EPOLL_CTL_ADD,
		    attest_event_fd(ztd.attest), &ev) < 0) {
			zt_log(LOG_ERR, "attestation: %s", why);
			attest_free(ztd.attest);
			ztd.attest = NULL;
			if (ready_fd >= 0)
				fprintf(stderr, "ztd: attestation: %s\n", why);
			close(signal_fd);
			goto close_server;
		}
	}
	{
		char why[FLEET_ERROR_MAX];

		if (fleet_start(&ztd, why, sizeof(why)) < 0) {
			zt_log(LOG_ERR, "%s", why);
			if (ready_fd >= 0)
				fprintf(stderr, "ztd: %s\n", why);
			attest_free(ztd.attest);
			ztd.attest = NULL;
			close(signal_fd);
			goto close_server;
		}
	}
	zt_log(LOG_NOTICE, "ztd %s serving %s%s: configuration %s, %zu agents, "
	    "attestation %s", PACKAGE_VERSION, socket_path,
	    ztd.server.adopted ? " (socket from systemd)" : "",
	    ztd.config_path, ztd.config->n_agents, attest_name(ztd.attest));
	config_warnings(ztd.config, log_warning, NULL);
	report_ready(&ready_fd, 0);
	/* The socket listens and the policy is loaded: logins may come. */
	systemd_notify("READY=1\nSTATUS=serving %s: generation 1, %zu agents",
	    socket_path, ztd.config->n_agents);
	/* Serving: lines go on to stderr only for a person watching, not
	 * into a pipe (the journal gets them through syslog already). */
	zt_log_set_stderr(arg_foreground && isatty(STDERR_FILENO));

	status = run(&ztd, signal_fd);
	systemd_notify("STOPPING=1");
	grant_end_all(&ztd, "ztd stopping");
	decide_stop_peers(&ztd);
	/* What the stop wrote (grants ended, what buckets held) is still
	 * held for the group commit: written before the file closes. */
	server_flush(&ztd);
	fleet_free(&ztd);
	zt_log(LOG_NOTICE, "stopped");

	attest_free(ztd.attest);
	ztd.attest = NULL;
	close(signal_fd);
close_server:
	server_close(&ztd.server, socket_path);
report:
	report_ready(&ready_fd, (unsigned char)status);
free_socket_path:
	fleet_free(&ztd);
	free(socket_path);
	identity_free(ztd.identity);
	launchfilters_free(ztd.launchfilters);
	grantset_free(&ztd.grants);
	grantset_free(&ztd.ended);
	token_free(ztd.token);
	ca_free(ztd.ca);
	cache_free(ztd.cache);
	audit_free(ztd.audit);
	disabled_free(ztd.disabled);
free_config:
	config_free(ztd.config);
	free((char *)ztd.config_path);
	zt_log_close();
	return status;
}
