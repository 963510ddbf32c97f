# fuzz/ctrl_codec.cmake: the swtpm control channel codec's harness (ctrl_codec_fuzz.cpp), built
# against its own coverage-instrumented copy of transports/swtpm's ctrl_decoder.rl and
# ctrl_codec.cpp with ASan and UBSan (vtpm_transports itself stays uninstrumented).
# Seeds: fuzz/corpus/ctrl_codec/.
vtpm_transports_ragel(VTPM_CTRL_DECODER_FUZZ_CPP ${CMAKE_CURRENT_BINARY_DIR}/ctrl_codec ctrl_decoder.rl)
add_library(vtpm_ctrl_codec_fuzz STATIC ${CMAKE_SOURCE_DIR}/transports/swtpm/ctrl_codec.cpp
            ${VTPM_CTRL_DECODER_FUZZ_CPP})
target_include_directories(vtpm_ctrl_codec_fuzz PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(vtpm_ctrl_codec_fuzz PUBLIC fsm::runtime)
target_compile_options(vtpm_ctrl_codec_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(ctrl_codec vtpm_ctrl_codec_fuzz)
