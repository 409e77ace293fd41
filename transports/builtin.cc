// The one place that knows every transport built into the binary (explicit registration, no
// static initialisers).
#include "itk/transport.h"
#include "loopback/loopback_transport.h"

namespace itk {

void registerBuiltinTransports(TransportRegistry& registry) {
  (void)registry.add(makeLoopbackTransportFactory());
}

}  // namespace itk
