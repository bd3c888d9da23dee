/* probes/http.h -- placeholder */
