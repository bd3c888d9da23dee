/* probes/tcp.h -- placeholder */
