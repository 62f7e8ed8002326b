/* assets: the web console's files, compiled into the binary at build time
 * by cmake/embed.cmake: each file of web/ at /<name> (index.html also at /)
 * and the browser client at /notifyd.js. Immutable; any thread. */
#ifndef NOTIFYD_WS_ASSETS_H
#define NOTIFYD_WS_ASSETS_H

#include <stddef.h>

struct nd_asset {
    const char *path; /* URL path, "/index.html" */
    const char *type; /* content type */
    const unsigned char *data;
    size_t len;
};

extern const struct nd_asset nd_assets[]; /* ends with a NULL path */
extern const unsigned nd_n_assets;

#endif
