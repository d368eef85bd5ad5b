# The unit tests again, agent library objects included, built with ASan and UBSan into
# $(OUTPUT)/sanitize and run as `make unit` runs them.
#
# Criterion runs each test in a worker process. An ASan or UBSan report ends the worker in the
# middle of the test (-fno-sanitize-recover=all), which Criterion counts as a failure; but
# LeakSanitizer reports when the worker exits, after the test has passed, and Criterion ignores
# that exit status. So ASan's reports, leaks included, go to files under $(SAN_LOGS) instead of
# stderr, and any file there fails the run.

SAN_DIR    := $(OUTPUT)/sanitize
SAN_LOGS   := $(SAN_DIR)/reports
SAN_FLAGS  := -fsanitize=address,undefined \
	      -fno-omit-frame-pointer \
	      -fno-sanitize-recover=all
SAN_ENV    := ASAN_OPTIONS=detect_leaks=1:log_path=$(CURDIR)/$(SAN_LOGS)/asan \
	      UBSAN_OPTIONS=print_stacktrace=1
SAN_OBJS   := $(patsubst $(OUTPUT)/%,$(SAN_DIR)/%,$(LIB_OBJS) $(UNIT_OBJS))
SAN_BIN    := $(SAN_DIR)/unit-tests

$(SAN_DIR)/agent/%.o: agent/%.c $(AGENT_HDRS) $(wildcard include/uvscope/*.h) $(SKELS) \
		      $(OUTPUT)/syscall_table.h
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(INCLUDES) -c $< -o $@

$(SAN_DIR)/proto/%.o: $(OUTPUT)/proto/%.c $(OUTPUT)/proto/%.h
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $(INCLUDES) -c $< -o $@

$(SAN_DIR)/agent/render/flame_pprof.o $(SAN_DIR)/unit/test_flame_pprof.o: $(PROTO_HDRS)

$(SAN_DIR)/unit/%.o: tests/unit/%.c $(AGENT_HDRS) $(wildcard include/uvscope/*.h tests/unit/*.h) \
		     $(SKELS) $(OUTPUT)/syscall_table.h
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -Wno-unused-parameter $(INCLUDES) $(UNIT_CFLAGS) -c $< -o $@

$(SAN_BIN): $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LIBS) $(UNIT_LIBS) -lcriterion -o $@

.PHONY: unit-sanitize
unit-sanitize: $(SAN_BIN) uvscope $(UNIT_FIXTURES) | node-builds
	$(Q)rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	$(Q)$(SAN_ENV) $(UNIT_ENV) $(UNIT_TIMEOUT) $(SAN_BIN) --jobs 2; status=$$?; \
	if [ -n "$$(ls $(SAN_LOGS))" ]; then \
		cat $(SAN_LOGS)/*; \
		echo "unit-sanitize: sanitizer reports above (kept in $(SAN_LOGS))" >&2; \
		exit 1; \
	fi; \
	exit $$status
