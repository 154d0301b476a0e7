#ifndef NOCTURNE_CPCAP_SHIM_H
#define NOCTURNE_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
