// version.h — the version string written into every output file's root attributes.
#ifndef MEMPROF_VERSION_H
#define MEMPROF_VERSION_H
#define MEMPROF_VERSION "0.1.0"
#endif
