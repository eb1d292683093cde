// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title TestPepecoin
 * @notice Stands in for mainnet Pepecoin (0xA9E8aCf069C58aEc8825542845Fd754e41a9489A) on devnet and
 * in tests: an 18-decimal ERC-20 with an open faucet. Never deploy it to a real network.
 */
contract TestPepecoin is ERC20 {
    constructor() ERC20("Pepecoin", "PEPE") {}

    /// @notice Open faucet: anyone may mint any amount to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
