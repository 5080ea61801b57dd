/* SPDX-License-Identifier: MIT */
#pragma once

#include "bus/bus-image.h"

/* SMS_Driver.Static: CreateFromINF (the driver catalog, site-drivers.h). */
extern const BusMethodHandler bus_driver_static_handlers[];
