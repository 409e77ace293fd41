#include "metrics/metered_sink.h"

namespace itk {

void MeteredSink::accept(Message message, AcceptCallback done) {
  std::string transport = message.origin.transport;
  std::string service = message.header.service;
  inner_.accept(std::move(message),
                [this, transport = std::move(transport), service = std::move(service),
                 done = std::move(done)](AcceptOutcome outcome) {
                  metrics_.received(transport, service, outcome.kind);
                  done(std::move(outcome));
                });
}

void MeteredSink::reportUnreadable(const Origin& from, const Status& why) {
  metrics_.unreadable(from.transport);
  inner_.reportUnreadable(from, why);
}

void MeteredSink::reportDeliveryFailure(DeliveryFailureReport report,
                                        std::function<void(Status)> done) {
  inner_.reportDeliveryFailure(std::move(report), std::move(done));
}

}  // namespace itk
