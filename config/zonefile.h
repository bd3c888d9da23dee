/* config/zonefile.h -- placeholder */
