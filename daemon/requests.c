/* SPDX-License-Identifier: Apache-2.0 */
/* Which peer may ask what, and the answer to each request type. */
#include "config.h"

#include <unistd.h>

#include "server.h"
#include "zt_err.h"
#include "zt_log.h"
#include "zt_msg.h"
#include "ztd.h"

/* Administrators: root, or the uid ztd itself runs as (tests). */
static bool
is_admin(const struct client *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

static int
answer_status(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, struct zt_msg *reply)
{
	const struct ztd_config *config = ztd->config;
	int64_t uptime = (ztd_now_ms() - ztd->started_ms) / 1000;
	int r;

	(void)c;
	if ((r = zt_msg_init(reply, ZT_MSG_STATUS_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_VERSION, PACKAGE_VERSION)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_UPTIME, (uint64_t)uptime)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_GENERATION,
	    ztd->generation)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_AGENTS,
	    (uint32_t)config->n_agents)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_CLIENTS,
	    ztd->server.n_clients)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_MAX_CLIENTS,
	    config->max_clients)) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_CONFIG, config->path)) < 0 ||
	    (r = zt_msg_put_u32(reply, ZT_F_PID, (uint32_t)getpid())) < 0 ||
	    (r = zt_msg_put_str(reply, ZT_F_ATTEST_MODE,
	    config_attest_mode_name(config->attest_mode))) < 0)
		return r;
	if (ztd->reload_error[0] != '\0' &&
	    (r = zt_msg_put_str(reply, ZT_F_RELOAD_ERROR,
	    ztd->reload_error)) < 0)
		return r;
	return 0;
}

static int
answer_reload(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, struct zt_msg *reply)
{
	int r;

	zt_log(LOG_NOTICE, "reload requested by uid %u pid %d",
	    (unsigned)c->uid, (int)c->pid);
	if ((r = ztd_reload(ztd)) < 0) {
		zt_msg_error(reply, request->request_id, r, ztd->reload_error);
		return 0;
	}
	if ((r = zt_msg_init(reply, ZT_MSG_RELOAD_REPLY,
	    request->request_id)) < 0 ||
	    (r = zt_msg_put_u64(reply, ZT_F_GENERATION, ztd->generation)) < 0)
		return r;
	return 0;
}

typedef int (*answer_fn)(struct ztd *, const struct client *,
    const struct zt_msg *, struct zt_msg *);

static const struct {
	answer_fn answer;
	bool admin_only;
} handlers[ZT_MSG_TYPE_MAX] = {
	[ZT_MSG_STATUS] = { answer_status, true },
	[ZT_MSG_RELOAD] = { answer_reload, true },
};

int
requests_dispatch(struct ztd *ztd, const struct client *c,
    const struct zt_msg *request, struct zt_msg *reply)
{
	unsigned type = request->type;

	if (type >= ZT_MSG_TYPE_MAX || handlers[type].answer == NULL)
		return ZT_E_PROTOCOL;	/* a reply type sent as a request */
	if (handlers[type].admin_only && !is_admin(c)) {
		zt_log(LOG_NOTICE, "uid %u pid %d may not ask %s",
		    (unsigned)c->uid, (int)c->pid, zt_msg_type_name(type));
		return ZT_E_PERM;
	}
	return handlers[type].answer(ztd, c, request, reply);
}
