/* status.c -- helpers over the status view (status.h). */
#include "config.h"

#include "control/status.h"

uint8_t status_addr_health(const struct status_view *v,
			   const struct model_addr *a, struct probe_info *pi)
{
	struct probe_info tmp;

	if (!pi)
		pi = &tmp;
	if (!a->target || !v->target(v->arg, a->target - 1, pi))
		return HEALTH_UNKNOWN;
	return pi->health;
}
