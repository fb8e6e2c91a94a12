// Callback: a move-only `void()` callable with 48 bytes of inline storage, the event type of
// the Scheduler. A lambda capturing a pointer, a few indices and a Bytes payload (the network's
// in-flight message) fits inline, so scheduling such an event allocates nothing; larger or
// throwing-move callables are boxed on the heap. Unlike std::function (16 inline bytes in
// libstdc++), it needs no copy constructor, so captures may be move-only. A value type; no
// threading concerns.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "base/assert.hpp"

namespace starling::sim {

class Callback {
 public:
  // Callables up to this size (and alignment up to alignof(std::max_align_t)) with a
  // noexcept move constructor are stored inline.
  static constexpr std::size_t kInlineBytes = 48;

  Callback() noexcept = default;

  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, Callback> &&
             std::is_invocable_r_v<void, std::remove_cvref_t<F>&>)
  Callback(F&& f) {  // NOLINT: implicit, so that lambdas convert at the call site
    using Fn = std::remove_cvref_t<F>;
    if constexpr (stored_inline<Fn>()) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      ops_ = &kInlineOps<Fn>;
    } else {
      ::new (static_cast<void*>(storage_)) Fn*(new Fn(std::forward<F>(f)));
      ops_ = &kBoxedOps<Fn>;
    }
  }

  Callback(Callback&& other) noexcept : ops_(other.ops_) {
    if (ops_ != nullptr) ops_->relocate(other.storage_, storage_);
    other.ops_ = nullptr;
  }

  Callback& operator=(Callback&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = other.ops_;
      if (ops_ != nullptr) ops_->relocate(other.storage_, storage_);
      other.ops_ = nullptr;
    }
    return *this;
  }

  Callback(const Callback&) = delete;
  Callback& operator=(const Callback&) = delete;
  ~Callback() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  // Calls the stored callable. REQUIRES: *this holds one.
  void operator()() {
    STARLING_ASSERT(ops_ != nullptr, "calling an empty Callback");
    ops_->invoke(storage_);
  }

  // Destroys the stored callable (and its captures), leaving *this empty.
  void reset() noexcept {
    if (ops_ != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  // True when a callable of type F is stored without a heap allocation.
  template <typename F>
  static constexpr bool stored_inline() noexcept {
    return sizeof(F) <= kInlineBytes && alignof(F) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<F>;
  }

 private:
  struct Ops {
    void (*invoke)(void* storage);
    // Move-constructs into `to` and destroys the source.
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void* storage) noexcept;
  };

  template <typename Fn>
  static constexpr Ops kInlineOps{
      [](void* s) { (*std::launder(static_cast<Fn*>(s)))(); },
      [](void* from, void* to) noexcept {
        Fn* source = std::launder(static_cast<Fn*>(from));
        ::new (to) Fn(std::move(*source));
        source->~Fn();
      },
      [](void* s) noexcept { std::launder(static_cast<Fn*>(s))->~Fn(); },
  };

  template <typename Fn>
  static constexpr Ops kBoxedOps{
      [](void* s) { (**std::launder(static_cast<Fn**>(s)))(); },
      [](void* from, void* to) noexcept { ::new (to) Fn*(*std::launder(static_cast<Fn**>(from))); },
      [](void* s) noexcept { delete *std::launder(static_cast<Fn**>(s)); },
  };

  alignas(std::max_align_t) unsigned char storage_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace starling::sim
