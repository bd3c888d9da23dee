/* server/wire.h -- placeholder */
