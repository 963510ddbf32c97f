# fuzz/data_framer.cmake: the swtpm data channel framer's harness (data_framer_fuzz.cpp), built
# against its own coverage-instrumented copy of transports/swtpm/data_framer.rl with ASan and
# UBSan (vtpm_transports itself stays uninstrumented). Seeds: fuzz/corpus/data_framer/.
vtpm_transports_ragel(VTPM_DATA_FRAMER_FUZZ_CPP ${CMAKE_CURRENT_BINARY_DIR}/data_framer data_framer.rl)
add_library(vtpm_data_framer_fuzz STATIC ${VTPM_DATA_FRAMER_FUZZ_CPP})
target_include_directories(vtpm_data_framer_fuzz PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(vtpm_data_framer_fuzz PUBLIC fsm::runtime)
target_compile_options(vtpm_data_framer_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(data_framer vtpm_data_framer_fuzz)
