// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EmissionSchedule} from "../based/EmissionSchedule.sol";

/// @notice Exposes the EmissionSchedule library to tests.
contract EmissionScheduleHarness {
    function blockReward(uint256 h) external pure returns (uint256) {
        return EmissionSchedule.blockReward(h);
    }

    function emissionBetween(uint256 a, uint256 b) external pure returns (uint256) {
        return EmissionSchedule.emissionBetween(a, b);
    }

    function totalEmission() external pure returns (uint256) {
        return EmissionSchedule.totalEmission();
    }

    function tftWeight(uint256 h) external pure returns (uint256) {
        return EmissionSchedule.tftWeight(h);
    }
}
