// SocketWatch: wakes the loop when a ZeroMQ socket may have work, by waiting on its ZMQ_FD with
// a Boost.Asio stream_descriptor that never owns the descriptor (ZeroMQ closes it). Private to
// starling::runtime. Single-threaded: use it only on the thread that runs its io_context.
//
// ZMQ_FD is edge-triggered and signals "look at ZMQ_EVENTS", not "a message is here": any
// ZeroMQ call on the socket (a recv, a send, reading ZMQ_EVENTS) may consume the edge. So the
// owner's service function must read ZMQ_EVENTS and drain until it shows nothing to do, then
// call arm(); and after using the socket outside a wakeup (a send), call post_service().
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

namespace starling::runtime::internal {

class SocketWatch {
 public:
  // Watches `fd` (a socket's ZMQ_FD). `service` is called on each wakeup; it may destroy this
  // SocketWatch, so nothing here touches members after calling it.
  SocketWatch(boost::asio::io_context& io, int fd, std::function<void()> service)
      : io_(io), descriptor_(io, fd), service_(std::move(service)) {}
  // Cancels pending waits and gives the descriptor back without closing it. Handlers already
  // queued see the life token expired and do nothing.
  ~SocketWatch() { descriptor_.release(); }
  SocketWatch(const SocketWatch&) = delete;
  SocketWatch& operator=(const SocketWatch&) = delete;

  // Starts one wait for the next edge unless one is pending.
  void arm() {
    if (wait_pending_) return;
    wait_pending_ = true;
    descriptor_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this, life = std::weak_ptr<int>(life_)](
                               const boost::system::error_code& error) {
                             if (life.expired()) return;
                             wait_pending_ = false;
                             if (error == boost::asio::error::operation_aborted) return;
                             service_();
                           });
  }

  // Queues a call to the service function unless one is queued: after a send consumed the
  // edge, or when a drain stopped at its batch limit.
  void post_service() {
    if (service_posted_) return;
    service_posted_ = true;
    boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_)] {
      if (life.expired()) return;
      service_posted_ = false;
      service_();
    });
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor descriptor_;
  std::function<void()> service_;
  bool wait_pending_ = false;
  bool service_posted_ = false;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // queued handlers hold weak_ptrs
};

}  // namespace starling::runtime::internal
