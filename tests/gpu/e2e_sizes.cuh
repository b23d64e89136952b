/* tests/gpu/e2e_sizes.cuh: test_gpu_e2e's cases of task sizes from a
 * kernel: the size classes and -EMSGSIZE (case_sizes), bdev pieces written
 * and read back by a kernel (case_bdev), and the largest echo and bdev
 * tasks with chi_gpu_bdev_write/read (case_max_sizes). Included by
 * test_gpu_e2e.cu after its CHECK, CUDA_OK and WAIT_NS. */
#ifndef CHI_TESTS_GPU_E2E_SIZES_CUH
#define CHI_TESTS_GPU_E2E_SIZES_CUH

__global__ void sizes_kernel(chi_gpu_ctx g, uint8_t *scratch, long long *res)
{
	// res[0..3]: echo 40, echo 3000 (4 KiB block), echo 70000 (big block),
	// res[4]: large_output 60000, res[5]: unknown method, res[6]: bytes wrong
	uint8_t *in = scratch, *out = scratch + 80000;
	for (int i = 0; i < 70000; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	const uint32_t sz[3] = {40, 3000, 70000};
	long long wrong = 0;
	for (int k = 0; k < 3; k++) {
		chi_test_echo_task e;
		chi_gpu_future f;
		chi_test_echo_init(&e, CHI_POOL_TEST, in, sz[k], out, sz[k]);
		int rc = chi_gpu_make_copy_future(&g, 0, &e.hdr, chi_test_echo_ser_in, &f);
		if (rc) {
			res[k] = rc;
			continue;
		}
		res[k] = chi_gpu_future_wait(&g, &f, &e.hdr, chi_test_echo_de_out, WAIT_NS);
		for (uint32_t i = 0; i < sz[k]; i++)
			wrong += out[i] != in[i];
	}
	chi_test_large_task l;
	chi_gpu_future f;
	chi_test_large_init(&l, CHI_POOL_TEST, 5, 60000, out);
	if (!chi_gpu_make_copy_future(&g, 0, &l.hdr, chi_test_large_ser_in, &f))
		res[4] = chi_gpu_future_wait(&g, &f, &l.hdr, chi_test_large_de_out, WAIT_NS);
	for (uint32_t i = 0; i < 60000; i++)
		wrong += out[i] != chi_test_pattern(5, i);
	chi_test_double_plus_task d;
	chi_test_double_plus_init(&d, CHI_POOL_TEST, 1, 0);
	d.hdr.method = 99;
	if (!chi_gpu_make_copy_future(&g, 0, &d.hdr, chi_test_double_plus_ser_in, &f))
		res[5] = chi_gpu_future_wait(&g, &f, &d.hdr, chi_test_double_plus_de_out, WAIT_NS);
	res[6] = wrong;
}

/* chi_gpu_make_copy_future, again while -EAGAIN for up to WAIT_NS (for a
 * thread that holds no other block: the others' come back) */
__device__ int submit_retry(const chi_gpu_ctx *g, uint32_t lane, chi_task *t, chi_gpu_ser_fn ser,
			    chi_gpu_future *f)
{
	uint64_t t0 = chi_hd_now_ns();
	uint32_t ns = 32;
	int rc;
	while ((rc = chi_gpu_make_copy_future(g, lane, t, ser, f)) == -CHI_EAGAIN &&
	       chi_hd_now_ns() - t0 < WAIT_NS)
		chi_gpu_backoff(&ns);
	return rc;
}

#define PIECE (48u * 1024u)
__global__ void bdev_kernel(chi_gpu_ctx g, chi_pool_id pool, uint8_t *buf, uint32_t pieces,
			    long long *res)
{
	uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
	if (p >= pieces)
		return;
	uint8_t *mine = buf + (uint64_t)p * PIECE;
	for (uint32_t i = 0; i < PIECE; i++)
		mine[i] = (uint8_t)(i * 31 + p);
	chi_bdev_write_task w;
	chi_gpu_future f;
	chi_bdev_write_init(&w, pool, (uint64_t)p * PIECE, mine, PIECE);
	long long r = -1;
	if (!submit_retry(&g, p, &w.hdr, chi_bdev_write_ser_in, &f))
		r = chi_gpu_future_wait(&g, &f, &w.hdr, chi_bdev_write_de_out, WAIT_NS);
	if (r != PIECE) {
		res[p] = r < 0 ? r : -1000;
		return;
	}
	for (uint32_t i = 0; i < PIECE; i++)
		mine[i] = 0;
	chi_bdev_read_task rd;
	chi_bdev_read_init(&rd, pool, (uint64_t)p * PIECE, mine, PIECE);
	r = -1;
	if (!submit_retry(&g, p, &rd.hdr, chi_bdev_read_ser_in, &f))
		r = chi_gpu_future_wait(&g, &f, &rd.hdr, chi_bdev_read_de_out, WAIT_NS);
	long long wrong = 0;
	for (uint32_t i = 0; i < PIECE; i++)
		wrong += mine[i] != (uint8_t)(i * 31 + p);
	res[p] = wrong ? -2000 - wrong : r;
}

/* One thread echoes max_task_size - 4 bytes (in_size = max_task_size: a big
 * data block), then one more byte is refused; the block's threads fill and
 * compare. in and out sit 4 bytes past 16-aligned, as the bytes do in the
 * wire, so the copies go 16 bytes at a time. res: [0] the echo, [1] its
 * class, [2] the refusal, [3] pools whose avail it changed, [4] bytes wrong */
__global__ void maxsize_kernel(chi_gpu_ctx g, uint8_t *in, uint8_t *out, long long *res)
{
	uint32_t len = (uint32_t)g.max_task - 4;
	for (uint32_t i = threadIdx.x; i < len; i += blockDim.x) {
		in[i] = (uint8_t)(i * 13 + (i >> 14) + 5);
		out[i] = 0;
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		chi_test_echo_task e;
		chi_gpu_future f;
		chi_test_echo_init(&e, CHI_POOL_TEST, in, len, out, len);
		int rc = chi_gpu_make_copy_future(&g, 0, &e.hdr, chi_test_echo_ser_in, &f);
		res[1] = rc ? -1 : (long long)(f.data_index >> CHI_GPU_CLASS_SHIFT);
		res[0] = rc ? rc : chi_gpu_future_wait(&g, &f, &e.hdr, chi_test_echo_de_out, WAIT_NS);
		uint64_t avail[CHI_GPU_NPOOLS];
		for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++)
			avail[k] = chi_ld_rlx_u64(&chi_gpu_pool_of(&g, k, 0)->avail);
		chi_test_echo_init(&e, CHI_POOL_TEST, in, len + 1, out, len + 1);
		res[2] = chi_gpu_make_copy_future(&g, 0, &e.hdr, chi_test_echo_ser_in, &f);
		for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++)
			res[3] += chi_ld_rlx_u64(&chi_gpu_pool_of(&g, k, 0)->avail) != avail[k];
	}
	__syncthreads();
	unsigned long long wrong = 0;
	for (uint32_t i = threadIdx.x; i < len; i += blockDim.x)
		wrong += out[i] != in[i];
	atomicAdd((unsigned long long *)&res[4], wrong);
}

/* One thread: a bdev write of max_task_size - 32 bytes as one task and its
 * read back, then len bytes through chi_gpu_bdev_write/read; the block's
 * threads fill and compare. res: [0] write, [1] read, [2] helper write,
 * [3] helper read, [4] bytes wrong */
__global__ void bdev_max_kernel(chi_gpu_ctx g, chi_pool_id pool, uint8_t *w, uint8_t *r,
				uint32_t len, long long *res)
{
	uint32_t one = (uint32_t)g.max_task - CHI_BDEV_READ_HDR;
	unsigned long long wrong = 0;
	for (uint32_t i = threadIdx.x; i < len; i += blockDim.x) {
		w[i] = (uint8_t)(i * 29 + (i >> 20) + 3);
		r[i] = 0;
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		chi_bdev_write_task wt;
		chi_bdev_read_task rt;
		chi_gpu_future f;
		chi_bdev_write_init(&wt, pool, 4096, w, one);
		int rc = chi_gpu_make_copy_future(&g, 0, &wt.hdr, chi_bdev_write_ser_in, &f);
		res[0] = rc ? rc : chi_gpu_future_wait(&g, &f, &wt.hdr, chi_bdev_write_de_out, WAIT_NS);
		chi_bdev_read_init(&rt, pool, 4096, r, one);
		rc = chi_gpu_make_copy_future(&g, 0, &rt.hdr, chi_bdev_read_ser_in, &f);
		res[1] = rc ? rc : chi_gpu_future_wait(&g, &f, &rt.hdr, chi_bdev_read_de_out, WAIT_NS);
	}
	__syncthreads();
	for (uint32_t i = threadIdx.x; i < one; i += blockDim.x) {
		wrong += r[i] != w[i];
		r[i] = 0;
	}
	__syncthreads();
	if (threadIdx.x == 0) {
		res[2] = chi_gpu_bdev_write(&g, 1, pool, 2u << 20, w, len, WAIT_NS);
		res[3] = chi_gpu_bdev_read(&g, 1, pool, 2u << 20, r, len, WAIT_NS);
	}
	__syncthreads();
	for (uint32_t i = threadIdx.x; i < len; i += blockDim.x)
		wrong += r[i] != w[i];
	atomicAdd((unsigned long long *)&res[4], wrong);
}


static void case_sizes(const chi_gpu_ctx *g)
{
	uint8_t *scratch;
	long long *res, h[7];
	CUDA_OK(cudaMalloc(&scratch, 160000));
	CUDA_OK(cudaMalloc(&res, sizeof(h)));
	CUDA_OK(cudaMemset(res, 0, sizeof(h)));
	sizes_kernel<<<1, 1>>>(*g, scratch, res);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	CUDA_OK(cudaMemcpy(h, res, sizeof(h), cudaMemcpyDeviceToHost));
	printf("sizes: echo40 %lld echo3000 %lld echo70000 %lld large60000 %lld unknown %lld wrong-bytes %lld\n",
	       h[0], h[1], h[2], h[3 + 1], h[5], h[6]);
	CHECK(h[0] == 40 && h[1] == 3000 && h[2] == 70000 && h[4] == 60000 && h[5] == -ENOSYS &&
	      h[6] == 0);
	cudaFree(scratch);
	cudaFree(res);
}

static void case_bdev(chi_client *c, const chi_gpu_ctx *g)
{
	char path[] = "/tmp/chi_gpu_bdevXXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	const uint32_t pieces = 64;
	chi_admin_pool_task p;
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, 9, "gpudisk", "bdev", path,
			    (uint64_t)pieces * PIECE);
	CHECK(chi_call(c, &p.hdr, &chi_admin_pool_codec) == 9);
	uint8_t *buf;
	long long *res, h[64];
	CUDA_OK(cudaMalloc(&buf, (size_t)pieces * PIECE));
	CUDA_OK(cudaMalloc(&res, sizeof(h)));
	bdev_kernel<<<2, 32>>>(*g, 9, buf, pieces, res);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	CUDA_OK(cudaMemcpy(h, res, sizeof(h), cudaMemcpyDeviceToHost));
	int bad = 0;
	for (uint32_t i = 0; i < pieces; i++)
		bad += h[i] != PIECE;
	/* the bytes are on disk: pread the file */
	fd = open(path, O_RDONLY);
	uint8_t *file = (uint8_t *)malloc((size_t)pieces * PIECE);
	CHECK(pread(fd, file, (size_t)pieces * PIECE, 0) == (ssize_t)pieces * PIECE);
	close(fd);
	uint64_t wrong = 0;
	for (uint32_t q = 0; q < pieces; q++)
		for (uint32_t i = 0; i < PIECE; i++)
			wrong += file[(uint64_t)q * PIECE + i] != (uint8_t)(i * 31 + q);
	printf("bdev: %u x %u KiB written and read back by a kernel, %d bad pieces, %llu wrong bytes in the file\n",
	       pieces, PIECE >> 10, bad, (unsigned long long)wrong);
	CHECK(bad == 0 && wrong == 0);
	free(file);
	unlink(path);
	cudaFree(buf);
	cudaFree(res);
}

/* Tasks of memory.max_task_size from one GPU thread: an echo and a bdev
 * transfer each in one task, and 3 MiB + 5 through the bdev helpers, to a
 * RAM bdev (pool 10, 8 MiB) */
static void case_max_sizes(chi_client *c, const chi_gpu_ctx *g)
{
	const uint32_t max = (uint32_t)g->max_task, len = (3u << 20) + 5;
	uint8_t *a, *b;
	long long *res, h[5];
	CUDA_OK(cudaMalloc(&a, (size_t)len + 64));
	CUDA_OK(cudaMalloc(&b, (size_t)len + 64));
	CUDA_OK(cudaMalloc(&res, sizeof(h)));
	CUDA_OK(cudaMemset(res, 0, sizeof(h)));
	maxsize_kernel<<<1, 256>>>(*g, a + 4, b + 4, res);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	CUDA_OK(cudaMemcpy(h, res, sizeof(h), cudaMemcpyDeviceToHost));
	printf("max sizes: echo of %u bytes %lld (class %lld), one byte more %lld (%lld pools "
	       "touched), %lld wrong bytes\n", max - 4, h[0], h[1], h[2], h[3], h[4]);
	CHECK(h[0] == max - 4 && h[1] == 2 && h[2] == -EMSGSIZE && h[3] == 0 && h[4] == 0);
	chi_admin_pool_task p;
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, 10, "gpuram", "bdev", "", 8u << 20);
	CHECK(chi_call(c, &p.hdr, &chi_admin_pool_codec) == 10);
	CUDA_OK(cudaMemset(res, 0, sizeof(h)));
	bdev_max_kernel<<<1, 256>>>(*g, 10, a, b, len, res);
	CUDA_OK(cudaGetLastError());
	CUDA_OK(cudaDeviceSynchronize());
	CUDA_OK(cudaMemcpy(h, res, sizeof(h), cudaMemcpyDeviceToHost));
	printf("max sizes: bdev write %lld and read %lld in one task each, %lld and %lld through "
	       "chi_gpu_bdev_write/read, %lld wrong bytes\n", h[0], h[1], h[2], h[3], h[4]);
	CHECK(h[0] == max - CHI_BDEV_READ_HDR && h[1] == max - CHI_BDEV_READ_HDR && h[2] == len &&
	      h[3] == len && h[4] == 0);
	cudaFree(a);
	cudaFree(b);
	cudaFree(res);
}

#endif
