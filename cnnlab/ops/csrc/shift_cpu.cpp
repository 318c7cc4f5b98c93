// Channel shift on the CPU: a pure data movement, so the kernel is organised around memory
// traffic. NCHW: each plane is one block copy plus zero fill, rows split across threads with
// at::parallel_for. channels_last: each pixel's C channels are gathered from their own sources.
// Compiled with -fopenmp: without it at::parallel_for silently runs on one thread.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// Copies n elements in fixed 64-byte steps (inlined vector moves). glibc's memmove, and a plain
// loop, which the compiler turns into memmove, run 3-15x slower when the source sits a few bytes
// behind the destination modulo 4096: exactly a one-column shift between two large buffers, whose
// addresses share their low 12 bits ("4K aliasing"). This copy runs at memcpy speed for every
// offset (measured on the course's 2-core machine). The last step overlaps the one before and
// rewrites a few equal values instead of calling the library for the remainder: on 8x8 maps, a
// plane of 64 floats, that call cost as much as the copy itself. src and dst never overlap.
template <int64_t bytes, typename scalar_t>
inline bool copy_in_steps(const scalar_t* src, scalar_t* dst, int64_t n) {
  constexpr int64_t step = bytes / sizeof(scalar_t);
  if (n < step) return false;
  for (int64_t i = 0; i + step <= n; i += step) std::memcpy(dst + i, src + i, bytes);
  if (n % step) std::memcpy(dst + n - step, src + n - step, bytes);
  return true;
}

template <typename scalar_t>
inline void copy_elements(const scalar_t* src, scalar_t* dst, int64_t n) {
  if (copy_in_steps<64>(src, dst, n) || copy_in_steps<16>(src, dst, n)) return;
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];  // under 16 bytes
}

// Zeroes n elements the same way: a row or two of an 8x8 map is a few vector stores, where
// std::fill became a library call per border, two per plane.
template <int64_t bytes, typename scalar_t>
inline bool zero_in_steps(scalar_t* dst, int64_t n) {
  constexpr int64_t step = bytes / sizeof(scalar_t);
  if (n < step) return false;
  for (int64_t i = 0; i + step <= n; i += step) std::memset(dst + i, 0, bytes);
  if (n % step) std::memset(dst + n - step, 0, bytes);
  return true;
}

template <typename scalar_t>
inline void zero_elements(scalar_t* dst, int64_t n) {
  if (zero_in_steps<64>(dst, n) || zero_in_steps<16>(dst, n)) return;
  for (int64_t i = 0; i < n; ++i) dst[i] = scalar_t();
}

// Where channel c's plane has a source, worked out once per channel and call rather than once
// per row: a batch of 128 maps of 8x8 has 8,192 planes and only 64 channels.
struct PlaneGeometry {
  int64_t offset;                    // out[i] = in[i + offset] in flat indices within the plane
  int64_t valid_begin, valid_end;    // rows with a source
  int64_t x_begin, x_end;            // columns with a source
};

std::vector<PlaneGeometry> plane_geometry(const int64_t* table, int64_t channels, int64_t height,
                                          int64_t width) {
  std::vector<PlaneGeometry> geometry(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t dy = table[2 * c], dx = table[2 * c + 1];
    PlaneGeometry& g = geometry[c];
    g.offset = dy * width + dx;
    g.x_begin = std::clamp<int64_t>(-dx, 0, width);
    g.x_end = std::clamp<int64_t>(width - dx, g.x_begin, width);
    g.valid_begin = std::clamp<int64_t>(-dy, 0, height);
    g.valid_end = g.x_begin == g.x_end ? g.valid_begin
                                       : std::clamp<int64_t>(height - dy, g.valid_begin, height);
  }
  return geometry;
}

// Output rows are numbered plane * H + y over all N * C planes; a chunk may span planes.
// Within a plane out[i] = in[i + (dy * W + dx)] in flat indices, so all rows with a source move in
// ONE block copy (whole rows for a shift along H, each row's interior for one along W); the few
// elements that wrapped around a row edge are then zeroed.
template <typename scalar_t>
void shift_rows_nchw(const scalar_t* in, scalar_t* out, const PlaneGeometry* geometry,
                     int64_t channels, int64_t height, int64_t width, int64_t row_begin,
                     int64_t row_end) {
  const scalar_t zero = scalar_t();  // value-initialised: all-zero bits, +0.0 in every format
  // Divide once per chunk: two 64-bit divisions per plane cost more than copying a plane of 8x8.
  int64_t plane = row_begin / height;
  int64_t y_begin = row_begin - plane * height;
  int64_t channel = plane % channels;
  for (int64_t row = row_begin; row < row_end; row += height - y_begin, y_begin = 0, ++plane) {
    const int64_t y_end = std::min(height, y_begin + (row_end - row));
    const PlaneGeometry& g = geometry[channel];
    channel = channel + 1 == channels ? 0 : channel + 1;
    const scalar_t* src = in + plane * height * width;
    scalar_t* dst = out + plane * height * width;
    // Rows [valid_begin, valid_end) of this chunk have a source.
    const int64_t valid_begin = std::clamp(g.valid_begin, y_begin, y_end);
    const int64_t valid_end = std::clamp(g.valid_end, valid_begin, y_end);
    zero_elements(dst + y_begin * width, (valid_begin - y_begin) * width);
    zero_elements(dst + valid_end * width, (y_end - valid_end) * width);
    if (valid_begin < valid_end) {
      const int64_t first = valid_begin * width + g.x_begin;
      const int64_t last = (valid_end - 1) * width + g.x_end;
      copy_elements(src + first + g.offset, dst + first, last - first);
      // Column by column: |dx| strided stores per row, not a library call per row.
      auto zero_column = [&](int64_t x) {
        for (int64_t y = valid_begin; y < valid_end; ++y) dst[y * width + x] = zero;
      };
      for (int64_t x = 0; x < g.x_begin; ++x) zero_column(x);
      for (int64_t x = g.x_end; x < width; ++x) zero_column(x);
    }
  }
}

// Pixels are numbered (n * H + y) * W + x; each holds C contiguous channels.
template <typename scalar_t>
void shift_pixels_nhwc(const scalar_t* in, scalar_t* out, const int64_t* table, int64_t channels,
                       int64_t height, int64_t width, int64_t pixel_begin, int64_t pixel_end) {
  const scalar_t zero = scalar_t();
  for (int64_t pixel = pixel_begin; pixel < pixel_end; ++pixel) {
    const int64_t x = pixel % width;
    const int64_t y = (pixel / width) % height;
    scalar_t* dst = out + pixel * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t dy = table[2 * c];
      const int64_t dx = table[2 * c + 1];
      const bool inside = y + dy >= 0 && y + dy < height && x + dx >= 0 && x + dx < width;
      dst[c] = inside ? in[(pixel + dy * width + dx) * channels + c] : zero;
    }
  }
}

}  // namespace

// Writes the shift of x into out (same shape, dtype and layout) and returns out.
at::Tensor shift_out(const at::Tensor& x, const at::Tensor& table, at::Tensor out) {
  const bool channels_last = check_shift_arguments(x, table, out);
  TORCH_CHECK(x.device().is_cpu(), "shift_out (CPU kernel): x must be on the CPU");
  if (x.numel() == 0) return out;
  const int64_t channels = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t* displacement = table.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "shift_cpu", [&] {
    const scalar_t* in = x.const_data_ptr<scalar_t>();
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    if (channels_last) {
      const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / channels);
      at::parallel_for(0, x.numel() / channels, grain, [&](int64_t begin, int64_t end) {
        shift_pixels_nhwc(in, dst, displacement, channels, height, width, begin, end);
      });
    } else {
      const auto geometry = plane_geometry(displacement, channels, height, width);
      const int64_t grain = std::max<int64_t>(1, at::internal::GRAIN_SIZE / width);
      at::parallel_for(0, x.numel() / width, grain, [&](int64_t begin, int64_t end) {
        shift_rows_nchw(in, dst, geometry.data(), channels, height, width, begin, end);
      });
    }
  });
  return out;
}

// How many distinct threads an at::parallel_for over `items` work items runs on when compiled
// exactly like the kernel above: the check that -fopenmp took effect (1 means it did not).
int64_t threads_used(int64_t items) {
  std::atomic<uint64_t> seen{0};
  at::parallel_for(0, items, 1, [&](int64_t, int64_t) {
    seen.fetch_or(uint64_t{1} << (at::get_thread_num() % 64));
  });
  return __builtin_popcountll(seen.load());
}
