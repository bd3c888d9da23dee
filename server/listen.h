/* server/listen.h -- placeholder */
