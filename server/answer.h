/* server/answer.h -- placeholder */
