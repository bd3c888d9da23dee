/* server/compile.h -- placeholder */
