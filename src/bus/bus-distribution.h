/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/bus-image.h"

extern const BusMethodHandler bus_distribution_instance_handlers[];
extern const BusMethodHandler bus_distribution_static_handlers[];
