/* server/snap.h -- placeholder */
