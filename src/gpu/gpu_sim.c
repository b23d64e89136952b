/* src/gpu/gpu_sim.c: the simulated GPU backend (chi_gpu_simulate): N GPUs
 * in host memory, so CI drives the GPU lane code from CPU threads (ctest
 * label gpu_protocol). "Device" allocations are host memory; claim counters
 * are the lanes' own tail words (chi_gpu_dir.counters_in_host). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu.h"

static uint32_t sim_count;
static int sim_count_fn(char *why, size_t len)
{
	snprintf(why, len, "simulated");
	return (int)sim_count;
}
static int sim_register(void *base, uint64_t size, void **dev)
{
	(void)size;
	*dev = base;
	return 0;
}
static void sim_unregister(void *base) { (void)base; }
static int sim_alloc(int gpu, uint64_t bytes, void **dev)
{
	(void)gpu;
	/* device allocations are 256-byte aligned; the pools need 128 */
	*dev = aligned_alloc(256, (bytes + 255) & ~(uint64_t)255);
	if (*dev)
		memset(*dev, 0, bytes);
	return *dev ? 0 : -ENOMEM;
}
static void sim_free(int gpu, void *dev)
{
	(void)gpu;
	free(dev);
}
static int sim_copy(void *dst, const void *src, uint64_t n)
{
	memcpy(dst, src, n);
	return 0;
}
static const chi_gpu_ops sim_ops = {"simulated", 1, sim_count_fn, sim_register, sim_unregister,
				    sim_alloc, sim_free, NULL, NULL, NULL, sim_copy, NULL, NULL, NULL};

/* simulated PCI bus ids (chi_gpu_simulate_pci): the same ops plus pci_bus_id */
#define SIM_PCI_MAX 64
static char sim_pci[SIM_PCI_MAX][32];
static int sim_pci_fn(int gpu, char *buf, size_t len)
{
	if (gpu < 0 || gpu >= SIM_PCI_MAX || !sim_pci[gpu][0])
		return -ENODEV;
	int n = snprintf(buf, len, "%s", sim_pci[gpu]);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}
static const chi_gpu_ops sim_pci_ops = {"simulated", 1, sim_count_fn, sim_register,
					sim_unregister, sim_alloc, sim_free, NULL, NULL, NULL,
					sim_copy, sim_pci_fn, NULL, NULL};

void chi_gpu_simulate(uint32_t ngpus)
{
	sim_count = ngpus;
	chi_gpu_set_ops(ngpus ? &sim_ops : NULL);
	memset(sim_pci, 0, sizeof(sim_pci));
}

void chi_gpu_simulate_pci(uint32_t gpu, const char *busid)
{
	if (gpu >= SIM_PCI_MAX)
		return;
	snprintf(sim_pci[gpu], sizeof(sim_pci[gpu]), "%s", busid ? busid : "");
	if (chi_gpu_get_ops() == &sim_ops)
		chi_gpu_set_ops(&sim_pci_ops);
}

