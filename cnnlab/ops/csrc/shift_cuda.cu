// Channel shift on a CUDA GPU. One warp walks one contiguous run of the output (an NCHW row of
// W pixels, or an NHWC pixel of C channels); its lanes read neighbouring addresses, so loads and
// stores coalesce. Runs are numbered with 64-bit integers and found by one division per run,
// never per element. Elements are copied as scalar_t values and zero is value-initialised, so
// half and bfloat16 need no conversion operators (torch compiles with them disabled).
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;

// First run handled by this warp and the stride between its runs (grid-stride loop).
__device__ __forceinline__ int64_t first_run() {
  return static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.y;
}
__device__ __forceinline__ int64_t run_stride() {
  return static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
}

template <typename scalar_t>
__global__ void shift_rows_nchw(const scalar_t* __restrict__ in, scalar_t* __restrict__ out,
                                const int64_t* __restrict__ table, int64_t rows, int64_t channels,
                                int64_t height, int64_t width) {
  for (int64_t row = first_run(); row < rows; row += run_stride()) {
    const int64_t plane = row / height;
    const int64_t y = row - plane * height;
    const int64_t c = plane % channels;
    const int64_t dy = table[2 * c];
    const int64_t dx = table[2 * c + 1];
    const bool row_inside = y + dy >= 0 && y + dy < height;
    scalar_t* dst = out + row * width;
    const scalar_t* src = in + (row + dy) * width + dx;
    for (int64_t x = threadIdx.x; x < width; x += kWarp) {
      const bool inside = row_inside && x + dx >= 0 && x + dx < width;
      dst[x] = inside ? src[x] : scalar_t();
    }
  }
}

template <typename scalar_t>
__global__ void shift_pixels_nhwc(const scalar_t* __restrict__ in, scalar_t* __restrict__ out,
                                  const int64_t* __restrict__ table, int64_t pixels,
                                  int64_t channels, int64_t height, int64_t width) {
  for (int64_t pixel = first_run(); pixel < pixels; pixel += run_stride()) {
    const int64_t x = pixel % width;
    const int64_t y = (pixel / width) % height;
    scalar_t* dst = out + pixel * channels;
    for (int64_t c = threadIdx.x; c < channels; c += kWarp) {
      const int64_t dy = table[2 * c];
      const int64_t dx = table[2 * c + 1];
      const bool inside = y + dy >= 0 && y + dy < height && x + dx >= 0 && x + dx < width;
      dst[c] = inside ? in[(pixel + dy * width + dx) * channels + c] : scalar_t();
    }
  }
}

}  // namespace

// Writes the shift of x into out (same shape, dtype and layout) and returns out.
at::Tensor shift_out(const at::Tensor& x, const at::Tensor& table, at::Tensor out) {
  const bool channels_last = check_shift_arguments(x, table, out);
  TORCH_CHECK(x.device().is_cuda(), "shift_out (CUDA kernel): x must be on a CUDA device");
  if (x.numel() == 0) return out;
  const c10::cuda::CUDAGuard device_guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int64_t channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t runs = x.numel() / (channels_last ? channels : width);
  // Enough blocks to fill any current GPU; the grid-stride loop covers the rest.
  const int64_t blocks_needed = (runs + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(blocks_needed, 1 << 16));
  const dim3 threads(kWarp, kWarpsPerBlock);
  const int64_t* displacement = table.const_data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "shift_cuda", [&] {
    const scalar_t* in = x.const_data_ptr<scalar_t>();
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    if (channels_last) {
      shift_pixels_nhwc<scalar_t><<<blocks, threads, 0, stream>>>(in, dst, displacement, runs,
                                                                   channels, height, width);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    } else {
      shift_rows_nchw<scalar_t><<<blocks, threads, 0, stream>>>(in, dst, displacement, runs,
                                                                 channels, height, width);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return out;
}
