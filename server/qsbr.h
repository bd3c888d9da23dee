/* server/qsbr.h -- placeholder */
