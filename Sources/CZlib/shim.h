#ifndef NOCTURNE_CZLIB_SHIM_H
#define NOCTURNE_CZLIB_SHIM_H
#include <zlib.h>
#endif
