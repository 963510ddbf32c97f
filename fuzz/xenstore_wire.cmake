# fuzz/xenstore_wire.cmake: simxenstored's xs_wire codec, request dispatch and store core, and its
# broker's request handling (transports/xen/simxen/), from an instrumented copy of their sources.
# Seeds: fuzz/corpus/xenstore_wire/, xenstore-utils' requests written out as bytes.
set(SIMXEN_DIR ${CMAKE_SOURCE_DIR}/transports/xen/simxen)
add_library(vtpm_simxen_fuzz STATIC ${SIMXEN_DIR}/wire.cpp ${SIMXEN_DIR}/store_core.cpp
            ${SIMXEN_DIR}/request.cpp ${SIMXEN_DIR}/broker_core.cpp)
target_include_directories(vtpm_simxen_fuzz PUBLIC ${SIMXEN_DIR})
target_compile_options(vtpm_simxen_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link
                       ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(xenstore_wire vtpm_simxen_fuzz)
