/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/bus-image.h"

extern const BusMethodHandler bus_schedule_static_handlers[];
