// The one place that knows every transport built into the binary (explicit registration, no
// static initialisers).
#include "itk/dts/transport.h"
#include "itk/mesh/transport.h"
#include "itk/spine/transport.h"
#include "itk/transport.h"
#include "loopback/loopback_transport.h"
#include "soap/soap_transport.h"

namespace itk {

void registerBuiltinTransports(TransportRegistry& registry) {
  (void)registry.add(dts::makeDtsTransportFactory());
  (void)registry.add(makeLoopbackTransportFactory());
  (void)registry.add(mesh::makeMeshTransportFactory());
  (void)registry.add(makeSoapTransportFactory());
  (void)registry.add(spine::makeSpineTransportFactory());
}

}  // namespace itk
