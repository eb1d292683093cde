// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/**
 * @title WrappedBased
 * @notice wBASED: BASED locked in the BasedAI chain's BasedBridge, represented on Ethereum.
 * Only the EthereumBridge mints (on an attested lock) and burns (when a holder bridges back), so
 * `totalSupply()` never exceeds the BASED locked on the other side. The owner is governance (the
 * GigaBrain timelock); it can only point the token at a new bridge.
 */
contract WrappedBased is ERC20, ERC20Permit, Ownable2Step {
    /// @notice The only address allowed to mint and burn.
    address public bridge;

    /// @notice Governance moved minting and burning to a new bridge.
    event BridgeChanged(address indexed previousBridge, address indexed newBridge);

    /// @notice Only the bridge mints and burns wBASED.
    error NotBridge(address caller);
    /// @notice A required address was zero.
    error ZeroAddress();

    /**
     * @param bridge_ The EthereumBridge (or, before it exists, the address that will hold the role).
     * @param governance The owner: the timelock that may change the bridge.
     */
    constructor(
        address bridge_,
        address governance
    ) ERC20("Wrapped BASED", "wBASED") ERC20Permit("Wrapped BASED") Ownable(governance) {
        if (bridge_ == address(0)) revert ZeroAddress();
        bridge = bridge_;
        emit BridgeChanged(address(0), bridge_);
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert NotBridge(msg.sender);
        _;
    }

    /// @notice Mints wBASED for BASED locked on the BasedAI chain.
    function mint(address to, uint256 amount) external onlyBridge {
        _mint(to, amount);
    }

    /// @notice Burns wBASED that is being bridged back. The bridge burns only what the holder
    /// asked it to bridge, so no allowance is involved.
    function burn(address from, uint256 amount) external onlyBridge {
        _burn(from, amount);
    }

    /// @notice Governance points minting and burning at a new bridge.
    function setBridge(address newBridge) external onlyOwner {
        if (newBridge == address(0)) revert ZeroAddress();
        emit BridgeChanged(bridge, newBridge);
        bridge = newBridge;
    }
}
