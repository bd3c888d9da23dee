/* probes/health.h -- placeholder */
