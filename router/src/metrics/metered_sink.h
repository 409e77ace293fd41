// MeteredSink: the InboundSink inbound transports are given. It counts what they hand over
// (itk_messages_received_total by transport, service and the router's answer;
// itk_messages_unreadable_total) and forwards everything to the Router unchanged.
#pragma once

#include "itk/inbound_sink.h"
#include "metrics/router_metrics.h"

namespace itk {

class MeteredSink final : public InboundSink {
 public:
  // `inner` and `metrics` outlive this object.
  MeteredSink(InboundSink& inner, RouterMetrics& metrics) : inner_(inner), metrics_(metrics) {}

  // Thread-safe; `done` runs where the inner sink runs it, after the count.
  void accept(Message message, AcceptCallback done) override;
  void reportUnreadable(const Origin& from, const Status& why) override;
  void reportDeliveryFailure(DeliveryFailureReport report,
                             std::function<void(Status)> done) override;

 private:
  InboundSink& inner_;
  RouterMetrics& metrics_;
};

}  // namespace itk
