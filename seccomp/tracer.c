/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tracer: the thread that seized the agent follows every fork, clone
 * and exec of its tree (PTRACE_O_EXITKILL on all), has execgate.c verify
 * each exec event before the new image's first instruction, and forwards
 * signals.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor_int.h"
#include "zt_log.h"

/* Note PID; SEEN: this is its own stop.  Returns whether PID's first
 * stop had been seen before. */
static bool
task_add(struct supervisor *s, pid_t pid, bool seen)
{
	bool was = false;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_tasks; i++)
		if (s->tasks[i].pid == pid) {
			was = s->tasks[i].seen;
			s->tasks[i].seen |= seen;
			goto out;
		}
	if (s->n_tasks < TASKS_MAX) {
		s->tasks[s->n_tasks].pid = pid;
		s->tasks[s->n_tasks].seen = seen;
		s->n_tasks++;
	}
	if (s->n_tasks > s->peak_tasks)
		s->peak_tasks = s->n_tasks;
out:
	pthread_mutex_unlock(&s->lock);
	return was;
}

static void
task_remove(struct supervisor *s, pid_t pid)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_tasks; i++)
		if (s->tasks[i].pid == pid) {
			s->tasks[i] = s->tasks[--s->n_tasks];
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

void
supervise_kill_tree(struct supervisor *s, const char *why)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_tasks;
	for (size_t i = 0; i < s->n_tasks; i++)
		kill(s->tasks[i].pid, SIGKILL);
	pthread_mutex_unlock(&s->lock);
	zt_log(LOG_WARNING, "agent %s: %zu tasks killed: %s",
	    s->setup.profile->agent, n, why);
}

void
supervise_stats(struct supervisor *s, size_t *approvals, size_t *tasks)
{
	pthread_mutex_lock(&s->lock);
	*approvals = s->peak_approvals;
	*tasks = s->peak_tasks;
	pthread_mutex_unlock(&s->lock);
}

int
supervise_trace(struct supervisor *s)
{
	char *blob = s->trace_blob, *env = s->trace_env;
	int root_status = -1;
	bool first = true;

	for (;;) {
		int status, sig, event;
		pid_t pid;

		/* The first event handled (the launch exec's, normally: the
		 * agent was seized running), before the next is waited for. */
		if (!first && s->setup.launched != NULL) {
			s->setup.launched();
			s->setup.launched = NULL;
		}
		pid = waitpid(-1, &status, __WALL);
		first = false;

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;			/* ECHILD: nothing left */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			task_remove(s, pid);
			execgate_drop(s, pid);
			if (pid == s->setup.root_pid) {
				root_status = status;
				break;
			}
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		sig = WSTOPSIG(status);
		event = (unsigned)status >> 16;
		switch (event) {
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE: {
			unsigned long child = 0;

			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &child) == 0)
				task_add(s, (pid_t)child, false);
			ptrace(PTRACE_CONT, pid, 0, 0);
			break;
		}
		case PTRACE_EVENT_EXEC: {
			unsigned long former = 0;
			size_t args_len, env_len;

			/* The thread that called exec (a non-leader's exec
			 * takes over the leader's pid): it alone holds the
			 * approval.  Unknown: nothing matches. */
			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &former) < 0)
				former = 0;
			if ((pid_t)former != pid && former != 0)
				task_remove(s, (pid_t)former);
			/* argv and the environment from the new stack,
			 * else from /proc. */
			if (execgate_image_strings(pid, blob, &args_len, env,
			    &env_len) < 0)
				args_len = env_len = (size_t)-1;
			if (former == 0 ||
			    !execgate_verify(s, pid, (pid_t)former, blob,
			    (ssize_t)args_len)) {
				char exe[PATH_MAX] = "?", link[64];
				ssize_t n;

				snprintf(link, sizeof(link), "/proc/%d/exe",
				    (int)pid);
				n = readlink(link, exe, sizeof(exe) - 1);
				exe[n > 0 ? n : 1] = '\0';
				zt_log(LOG_WARNING, "agent %s: pid %d runs an "
				    "image or argv that was not approved "
				    "(%s): killed before its first "
				    "instruction", s->setup.profile->agent,
				    (int)pid, exe);
				kill(pid, SIGKILL);
			} else if (!execgate_environment_ok(s, pid, env,
			    (ssize_t)env_len))
				kill(pid, SIGKILL);
			/* The calling thread is gone either way. */
			if (former != 0)
				execgate_drop(s, (pid_t)former);
			ptrace(PTRACE_CONT, pid, 0, 0);
			break;
		}
		case PTRACE_EVENT_STOP:
			/* A new task's first stop: let it run.  Later ones
			 * are group stops, which keep it stopped. */
			if (task_add(s, pid, true) && (sig == SIGSTOP ||
			    sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU))
				ptrace(PTRACE_LISTEN, pid, 0, 0);
			else
				ptrace(PTRACE_CONT, pid, 0, 0);
			break;
		default:
			/* A signal on its way: deliver it. */
			ptrace(PTRACE_CONT, pid, 0, (void *)(uintptr_t)sig);
			break;
		}
	}
	if (s->setup.launched != NULL)
		s->setup.launched();
	return root_status;
}
